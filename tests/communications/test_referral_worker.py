"""A wishlist sent to a friend, through a real worker and an SMTP server: the friend gets
exactly one email, sent, refused, retried or lost for an answer; and afterwards the friend's
name and address are nowhere: not in any table, not in the logs, not in Redis (the broker, the
result backend, the cache), and while queued only sealed."""

from __future__ import annotations

import logging
import time

import pytest

from communications.referrals.models import Referral
from communications.referrals.sealing import Sealed, WishlistItem, seal
from communications.referrals.tasks import deliver_referral_task
from tests.communications import traces
from tests.harness.http import logged_in
from tests.harness.smtp import SMTPServer

pytestmark = [pytest.mark.worker, pytest.mark.smtp]

Status = Referral.Status
LENS = "http://127.0.0.1:8000/products/zoom-lens-70-200/"


def friend(first: str, last: str) -> dict[str, str]:
    return {
        "friend_name": f"{first} {last}",
        "friend_email": f"{first}.{last}@friends.example".lower(),
        "message": "For my birthday, if you like.",
        "item_1_name": "Zoom lens 70-200mm",
        "item_1_link": LENS,
    }


def needles(details: dict[str, str]) -> list[str]:
    first, last = details["friend_name"].split()
    address = details["friend_email"]
    return [details["friend_name"], first, last, address, address.split("@")[0]]


def send(sender, details: dict[str, str]) -> Referral:
    response = logged_in(sender).post("/wishlist/send/", details)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Referral.objects.latest("pk")


def wait_for_status(referral: Referral, *statuses: str, timeout: float = 20) -> Referral:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        referral.refresh_from_db()
        if referral.status in statuses:
            return referral
        time.sleep(0.05)
    raise AssertionError(f"referral {referral.pk} still {referral.status}: {referral.last_error}")


def traces_of(details: dict[str, str], caplog, *workers) -> list[str]:
    # Every log record of this process but the receiving SMTP server's own (aiosmtpd's
    # "mail.log": the friend's mail server, not ours), and the workers' whole logs.
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in ours)
    logs += "".join(w.log.read_text(errors="replace") for w in workers)
    return (
        traces.in_database(needles(details))
        + traces.in_text(logs, needles(details), "the logs")
        + traces.in_redis(needles(details))
    )


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann", last_name="Lee", verified=True)


@pytest.fixture(autouse=True)
def every_log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_the_friend_gets_exactly_one_email_and_nothing_of_them_is_kept(
    smtp: SMTPServer, celery_worker, ann, caplog
):
    details = friend("Zebedee", "Quillfeather")

    # when
    referral = send(ann, details)

    # then the friend gets one email, saying who sent it and that their details are not kept
    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("zebedee.quillfeather@friends.example",)
    assert received.subject == "Ann Lee shared a wishlist with you"
    body = " ".join(received.text().split())
    assert "Hello Zebedee Quillfeather," in body
    assert "Ann Lee asked us to send you their wishlist" in body
    assert '"For my birthday, if you like."' in body
    assert "Zoom lens 70-200mm" in body and f"/wishlist/from/{referral.token}/?to=" in body
    assert "We have not kept them, and we will not write to you again." in body
    assert "Zoom lens 70-200mm</a>" in received.html()
    referral = wait_for_status(referral, Status.SENT)
    assert referral.attempts == 1 and referral.finished_at is not None

    # and a second delivery of the task (a redelivery) sends nothing more
    again = Sealed(
        friend_name=details["friend_name"],
        friend_email=details["friend_email"],
        sender_name="Ann Lee",
        items=(WishlistItem("Zoom lens 70-200mm", LENS),),
    )
    deliver_referral_task.apply_async((referral.pk, seal(again)), argsrepr="(<test>)")
    time.sleep(1.5)
    assert len(smtp.messages) == 1

    # and the friend's name and address are nowhere
    assert traces_of(details, caplog, celery_worker) == []


def test_a_refused_address_fails_once_and_the_servers_words_are_not_kept(
    smtp: SMTPServer, celery_worker, ann, caplog
):
    details = friend("Ottoline", "Brackenbury")
    # the server's refusal quotes the address, as real ones do
    smtp.refuse_next(
        "550 5.1.1 <ottoline.brackenbury@friends.example>: Recipient address rejected", at="rcpt"
    )

    referral = wait_for_status(send(ann, details), Status.FAILED)

    assert referral.last_error == "refused (SMTPRecipientsRefused 550)"
    assert referral.attempts == 1
    time.sleep(0.5)
    assert smtp.messages == []
    assert traces_of(details, caplog, celery_worker) == []


def test_a_temporary_failure_is_tried_again_after_the_backoff_and_sent_once(
    smtp: SMTPServer, own_workers, ann, caplog
):
    worker = own_workers(name="referral-retry", EMAIL_RETRY_BACKOFF="0.3")
    details = friend("Barnaby", "Wrenfield")
    smtp.refuse_next("451 4.3.0 Try again later", at="data")

    referral = wait_for_status(send(ann, details), Status.SENT)

    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("barnaby.wrenfield@friends.example",)
    assert referral.attempts == 2
    assert f"referral {referral.pk} not sent (temporary): SMTPDataError 451" in worker.tail()
    time.sleep(1)
    assert len(smtp.messages) == 1
    assert traces_of(details, caplog, worker) == []


def test_no_answer_once_handed_over_is_uncertain_and_never_sent_again(
    smtp: SMTPServer, own_workers, ann, caplog
):
    worker = own_workers(name="referral-uncertain", EMAIL_TIMEOUT="1")
    details = friend("Perpetua", "Holloway")
    smtp.answer_late(3)  # keeps the message, answers after the client gave up

    referral = wait_for_status(send(ann, details), Status.UNCERTAIN, Status.SENT)

    assert referral.status == Status.UNCERTAIN
    assert referral.last_error.startswith("no answer once handed over")
    time.sleep(3)
    assert len(smtp.messages) == 1  # it had arrived; it is not sent a second time
    assert traces_of(details, caplog, worker) == []


def test_while_queued_the_details_are_in_the_broker_only_sealed_and_gone_after(
    smtp: SMTPServer, celery_worker, ann, caplog
):
    details = friend("Cordelia", "Ashworth")

    # given the worker is not taking tasks, so the send waits in the broker
    with celery_worker.paused():
        referral = send(ann, details)
        # then the message is there, its body holds the referral's id and a sealed value only
        (body,) = traces.redis_bodies(f"[{referral.pk}, ")
        assert b"gAAAAA" in body  # a Fernet token
        assert traces.in_redis(needles(details)) == []

    # when the worker takes it, the email goes and the message is gone
    wait_for_status(referral, Status.SENT)
    smtp.wait_for(1)
    # (the message leaves the broker when the worker acknowledges it, after the task's end)
    deadline = time.monotonic() + 10
    while traces.redis_bodies(f"[{referral.pk}, ") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert traces.redis_bodies(f"[{referral.pk}, ") == []
    assert traces_of(details, caplog, celery_worker) == []
