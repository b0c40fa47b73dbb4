"""A campaign batch's claim keeps one letter per claimed row, in id order (``r`` for a row
the gate refused), and the sweep reads them back when the worker died: sent rows stay sent,
the row in flight is uncertain, the rest go back to the queue."""

from __future__ import annotations

from unittest import mock

from communications.models import Delivery, SendingClaim
from communications.sending import Failure, Result
from communications.services import sweep_outbox
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
