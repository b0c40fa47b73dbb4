"""A campaign batch's claim keeps one letter per claimed row, in id order (``r`` for a row
the gate refused), and the sweep reads them back when the worker died: sent rows stay sent,
the row in flight is uncertain, the rest go back to the queue."""

from __future__ import annotations

from unittest import mock

from anymail.signals import AnymailTrackingEvent

from communications.models import Delivery, SendingClaim, message_id_for
from communications.sending import Failure, Result
from communications.services import process_provider_event, record_provider_event, sweep_outbox
from communications.services.campaigns.batches import _claim
from communications.services.claims import ClaimProgress
from tests.factories import CampaignFactory, subscribers

Status = Delivery.Status


def test_the_sweep_reads_a_dead_workers_letters_back_onto_its_rows(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # given five claimed rows, the first refused by the gate
    subscribers(5)
    campaign = CampaignFactory(subject_line="Hi", body="Hello", started=True)
    claim_id, claimed = _claim(campaign.pk, 10)
    ids = [row_id for row_id, _, _ in claimed]
    refusal = (ids[0], Status.SKIPPED_NO_CONSENT, "", "no consent", None, 0)
    progress = ClaimProgress(claim_id, {i: 1 for i in ids}, [refusal], order=ids[1:])

    # when the worker hands the second row over (sent), the third (refused for now), then
    # dies handing over the fourth
    assert progress.begin([ids[1]], [])
    assert progress.begin([ids[2]], [Result(ids[1], True, "<one@x>")])
    assert progress.begin([ids[3]], [Result(ids[2], False, error="451", failure=Failure.TEMPORARY)])
    claim = SendingClaim.objects.get(pk=claim_id)
    assert (claim.outcomes, claim.in_flight, claim.hand_over_order) == ("rst", ids[3], "")
    SendingClaim.objects.filter(pk=claim_id).update(db_pid=0)  # its session is gone
    with mock.patch("communications.services.campaigns.sweeps.restart_sending"):
        swept = sweep_outbox()

    # then
    rows = {
        row.pk: (row.status, row.attempts, row.last_error.split(":")[0])
        for row in Delivery.objects.filter(pk__in=ids)
    }
    assert rows == {
        ids[0]: (Status.QUEUED, 0, ""),  # asked again when it is claimed next
        ids[1]: (Status.SENT, 1, ""),
        ids[2]: (Status.QUEUED, 1, "not sent"),  # a try, and a backoff
        ids[3]: (Status.FAILED, 1, "uncertain"),
        ids[4]: (Status.QUEUED, 0, ""),
    }
    assert swept["uncertain"] == 1
    assert not SendingClaim.objects.exists()


def test_a_bounce_of_a_sent_row_while_the_batch_runs_does_not_shift_the_letters(db, settings):
    # A hard bounce can come back (matched by our Message-ID) while its batch is still
    # sending; the row leaves "sending" before the batch ends. The letters must still land
    # on their own rows when the worker dies: the refused row is never recorded as sent, and
    # the sent one never goes back to the queue to be sent again.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscribers(5)
    campaign = CampaignFactory(subject_line="Hi", body="Hello", started=True)
    claim_id, claimed = _claim(campaign.pk, 10)
    ids = [row_id for row_id, _, _ in claimed]
    progress = ClaimProgress(claim_id, {i: 1 for i in ids}, [], order=ids)
    assert progress.begin([ids[0]], [])
    assert progress.begin([ids[1]], [Result(ids[0], True, message_id_for(ids[0]))])
    refusal = (ids[1], Status.SKIPPED_NO_CONSENT, "", "no consent", None, 0)
    progress.pending.append(refusal)
    assert progress.begin([ids[2]], [])
    assert progress.begin([ids[3]], [Result(ids[2], True, message_id_for(ids[2]))])
    assert SendingClaim.objects.get(pk=claim_id).outcomes == "srs"
    # the first row bounces, through the provider webhook's real path
    event = record_provider_event(
        event=AnymailTrackingEvent(
            event_type="bounced",
            message_id=message_id_for(ids[0]),
            recipient=Delivery.objects.get(pk=ids[0]).to_email,
            event_id="bounce-during-batch",
            description="mailbox unavailable",
        ),
        esp_name="postmark",
    )
    process_provider_event(event_id=event.pk)
    assert Delivery.objects.get(pk=ids[0]).status == Status.BOUNCED

    SendingClaim.objects.filter(pk=claim_id).update(db_pid=0)  # its session is gone
    with mock.patch("communications.services.campaigns.sweeps.restart_sending"):
        sweep_outbox()

    statuses = {row.pk: row.status for row in Delivery.objects.filter(pk__in=ids).order_by("pk")}
    assert statuses == {
        ids[0]: Status.BOUNCED,
        ids[1]: Status.QUEUED,  # refused: asked again, never "sent"
        ids[2]: Status.SENT,  # sent once, not put back in the queue
        ids[3]: Status.FAILED,  # in flight: uncertain
        ids[4]: Status.QUEUED,
    }
    assert Delivery.objects.get(pk=ids[3]).last_error.startswith("uncertain")
