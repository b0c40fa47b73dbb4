"""The worker's side of a referral, called as the task calls it: a redelivered task after a
worker died (before the hand-over: sent once; during it: uncertain, never sent), a task
arriving while another holds the send, a send not yet due, sealed details too old to open,
an address suppressed since it was queued, and the sweep that gives up what can't be sent."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from communications.referrals import sealing
from communications.referrals.models import Referral
from communications.referrals.sealing import Sealed, WishlistItem, seal
from communications.referrals.services import deliver_referral, sweep_referrals
from tests.factories import SuppressionFactory

pytestmark = pytest.mark.usefixtures("locmem_email")

Status = Referral.Status
FRIEND = "bertha.mossgrove@friends.example"


def details(**changes) -> Sealed:
    return Sealed(
        **{
            "friend_name": "Bertha Mossgrove",
            "friend_email": FRIEND,
            "sender_name": "Ann Lee",
            "message": "Line one\nLine two <b>not bold</b>",
            "items": (WishlistItem("Camera bag", "https://www.jessops.com/bag"),),
            **changes,
        }
    )


@pytest.fixture
def republished():
    with mock.patch("communications.referrals.services.delivering.publish") as publish:
        yield publish


def referral(ann=None, **fields) -> Referral:
    return Referral.objects.create(
        token=f"t{time.monotonic_ns()}", sender=ann, created_at=timezone.now(), **fields
    )


def dead_holder(**fields) -> dict:
    return {
        "status": Status.SENDING,
        "attempts": 1,
        "claimed_at": timezone.now() - timedelta(seconds=30),
        "holder_db_pid": 2_000_000_000,
        "holder_db_session_started": timezone.now() - timedelta(minutes=1),
        **fields,
    }


def test_a_queued_send_goes_once_even_if_the_task_runs_twice(db):
    row = referral()

    assert deliver_referral(referral_id=row.pk, sealed=seal(details())) == Status.SENT
    assert deliver_referral(referral_id=row.pk, sealed=seal(details())) == Status.SENT

    assert [message.to for message in mail.outbox] == [[FRIEND]]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.handing_over, row.holder_db_pid) == (
        Status.SENT,
        1,
        False,
        None,
    )


def test_the_email_is_plain_text_and_escaped_html_and_says_who_sent_it(db):
    row = referral()

    deliver_referral(referral_id=row.pk, sealed=seal(details()))

    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert "Line one<br>Line two &lt;b&gt;not bold&lt;/b&gt;" in html
    assert "Line one\nLine two <b>not bold</b>" in message.body
    assert "Ann Lee gave us your name and email address to send you this one email." in html
    assert message.extra_headers["Message-ID"].startswith(f"<referral-{row.pk}@")


def test_a_task_redelivered_after_its_worker_died_before_the_hand_over_sends_once(db):
    row = referral(**dead_holder(handing_over=False))

    assert deliver_referral(referral_id=row.pk, sealed=seal(details())) == Status.SENT

    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_task_redelivered_after_its_worker_died_mid_hand_over_is_uncertain_and_not_sent(db):
    row = referral(**dead_holder(handing_over=True))

    assert deliver_referral(referral_id=row.pk, sealed=seal(details())) == Status.UNCERTAIN

    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == Status.UNCERTAIN and "may have arrived" in row.last_error


def test_a_task_arriving_while_another_holds_the_send_leaves_it_alone(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        pid, started = cursor.fetchone()
    row = referral(
        **dead_holder(holder_db_pid=pid, holder_db_session_started=started, handing_over=True)
    )

    assert deliver_referral(referral_id=row.pk, sealed=seal(details())) == Status.SENDING

    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == Status.SENDING


def test_a_send_not_yet_due_is_scheduled_for_when_it_is(db, republished):
    due = timezone.now() + timedelta(seconds=40)
    row = referral(next_attempt_at=due)

    assert deliver_referral(referral_id=row.pk, sealed="sealed-value") == Status.EXPIRED
    row = referral(next_attempt_at=due)
    sealed = seal(details())
    assert deliver_referral(referral_id=row.pk, sealed=sealed) == Status.QUEUED

    assert mail.outbox == []
    ((referral_id, again), options) = republished.call_args
    assert (referral_id, again) == (row.pk, sealed)
    assert 35 < options["countdown"] <= 41


def test_a_temporary_failure_goes_back_to_the_queue_with_its_retry_scheduled(
    db, republished, django_capture_on_commit_callbacks
):
    import smtplib

    row = referral()
    failing = mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=smtplib.SMTPDataError(451, b"4.3.0 Try again later, bertha"),
    )
    with failing, django_capture_on_commit_callbacks(execute=True):
        assert deliver_referral(referral_id=row.pk, sealed=seal(details())) == Status.QUEUED

    row.refresh_from_db()
    assert row.status == Status.QUEUED and row.attempts == 1
    assert row.last_error == "SMTPDataError 451" and row.next_attempt_at > timezone.now()
    assert republished.call_args.args[0] == row.pk


def test_details_sealed_longer_ago_than_the_send_window_are_never_sent(db, settings):
    row = referral()
    fernet = sealing._keys()[0]
    payload = json.dumps(
        {"friend_name": "B", "friend_email": FRIEND, "sender_name": "A", "items": []}
    ).encode()
    old = fernet.encrypt_at_time(payload, int(time.time()) - settings.REFERRAL_SEND_WINDOW - 60)

    assert deliver_referral(referral_id=row.pk, sealed=old.decode()) == Status.EXPIRED

    assert mail.outbox == []


def test_details_sealed_under_another_key_are_never_sent(db, settings):
    row = referral()
    sealed = seal(details())
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789abcdefghijklmnop"

    assert deliver_referral(referral_id=row.pk, sealed=sealed) == Status.EXPIRED


def test_an_earlier_secret_key_still_opens_what_it_sealed(db, settings):
    row = referral()
    sealed = seal(details())
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789abcdefghijklmnop"

    assert deliver_referral(referral_id=row.pk, sealed=sealed) == Status.SENT


def test_an_address_suppressed_after_queueing_is_not_emailed(db):
    row = referral()
    SuppressionFactory(address=FRIEND.upper())

    assert deliver_referral(referral_id=row.pk, sealed=seal(details())) == Status.SUPPRESSED

    assert mail.outbox == []


def test_the_sweep_gives_up_only_what_the_window_has_closed_on(db, settings):
    long_ago = timezone.now() - timedelta(seconds=settings.REFERRAL_SEND_WINDOW + 60)
    lost = referral()
    Referral.objects.filter(pk=lost.pk).update(created_at=long_ago)
    stopped = referral(**dead_holder(handing_over=False))
    mid_send = referral(**dead_holder(handing_over=True))
    Referral.objects.filter(pk__in=[stopped.pk, mid_send.pk]).update(created_at=long_ago)
    recent = referral()

    assert sweep_referrals() == {"expired": 2, "uncertain": 1}

    statuses = dict(Referral.objects.values_list("pk", "status"))
    assert statuses == {
        lost.pk: Status.EXPIRED,
        stopped.pk: Status.EXPIRED,
        mid_send.pk: Status.UNCERTAIN,
        recent.pk: Status.QUEUED,
    }


def test_a_send_window_shorter_than_the_retries_or_the_visibility_timeout_fails_the_checks(
    settings,
):
    from communications.referrals.checks import referral_settings_are_usable

    assert referral_settings_are_usable(None) == []
    settings.REFERRAL_SEND_WINDOW = 1800
    assert [e.id for e in referral_settings_are_usable(None)] == ["communications.E102"]
    settings.REFERRAL_SEND_WINDOW = 21600
    settings.REFERRAL_SEALING_KEY = "not a key"
    assert [e.id for e in referral_settings_are_usable(None)] == ["communications.E101"]
