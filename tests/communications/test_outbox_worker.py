"""The transactional outbox with a real Celery worker and SMTP server: a row is written in the
transaction that causes it, relayed only if that transaction commits, and swept up again when
the relay never reached the broker."""

from __future__ import annotations

import socket
import time

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from communications.kinds import MessageKind
from communications.models import Delivery
from communications.services import enqueue_email, sweep_outbox
from communications.tasks import send_delivery_task
from tests.harness.smtp import SMTPServer
from tests.harness.worker import WorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.smtp]

Status = Delivery.Status
VERIFY_URL = "http://127.0.0.1:8000/accounts/confirm-email/abc123/"


class _BrokerDown:
    """Stands in for the relay task while the broker can't be reached."""

    def delay(self, *args):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def welcome(user) -> Delivery:
    return enqueue_email(kind=MessageKind.WELCOME, user=user, context={"verify_url": VERIFY_URL})


def wait_for_status(delivery: Delivery, status: str, *, timeout: float = 15) -> Delivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status == status:
            return delivery
        time.sleep(0.05)
    raise AssertionError(f"delivery {delivery.pk} still {delivery.status}: {delivery.last_error}")


def test_an_email_enqueued_in_a_committed_transaction_is_delivered_by_the_worker(
    smtp: SMTPServer, celery_worker, make_user
):
    # given
    ada = make_user("ada@example.com", first_name="Ada")

    # when
    with transaction.atomic():
        delivery = welcome(ada)

    # then
    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.subject.startswith("Welcome to")
    assert VERIFY_URL in received.text()
    delivery = wait_for_status(delivery, Status.SENT)
    assert delivery.provider_message_id == str(received.message["Message-ID"])
    assert delivery.attempts == 1 and delivery.sent_at is not None


def test_an_email_enqueued_in_a_transaction_that_rolls_back_is_never_sent_and_leaves_no_row(
    smtp: SMTPServer, celery_worker, make_user
):
    # given
    ada = make_user("ada@example.com")
    bob = make_user("bob@example.com")

    # when Ada's sign-up fails after her welcome email was enqueued
    with pytest.raises(RuntimeError), transaction.atomic():
        welcome(ada)
        raise RuntimeError("the rest of the sign-up failed")
    # and Bob's succeeds, after hers
    with transaction.atomic():
        bobs = welcome(bob)

    # then Bob's is delivered and Ada's never is
    wait_for_status(bobs, Status.SENT)
    time.sleep(0.3)
    assert [m.rcpt_tos for m in smtp.messages] == [("bob@example.com",)]
    assert not Delivery.objects.filter(user=ada).exists()


def test_a_row_written_while_the_broker_is_down_is_relayed_by_the_sweep_once_old_enough(
    smtp: SMTPServer, celery_worker, make_user, monkeypatch, settings
):
    # given the broker can't be reached when the transaction commits
    ada = make_user("ada@example.com")
    settings.EMAIL_OUTBOX_RETRY_AFTER = 1
    monkeypatch.setattr("communications.tasks.send_delivery_task", _BrokerDown())

    # when: the caller's transaction still commits, and nothing is lost
    with transaction.atomic():
        delivery = welcome(ada)
    monkeypatch.undo()
    delivery.refresh_from_db()
    assert delivery.status == Status.QUEUED

    # then the sweep leaves it while it is young (its relay may still be on the way)
    assert sweep_outbox() == {"requeued": 0, "uncertain": 0, "released": 0}
    time.sleep(0.3)
    assert smtp.messages == []
    # and relays it once older than EMAIL_OUTBOX_RETRY_AFTER
    time.sleep(1)
    assert sweep_outbox() == {"requeued": 1, "uncertain": 0, "released": 0}
    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("ada@example.com",)
    delivery = wait_for_status(delivery, Status.SENT)
    assert delivery.attempts == 1


def test_a_row_relayed_several_times_is_sent_once(smtp: SMTPServer, celery_worker, make_user):
    # given a committed row (its own relay included)
    ada = make_user("ada@example.com")
    with transaction.atomic():
        delivery = welcome(ada)

    # when it is relayed again, twice at once (a sweep racing the first relay)
    results = [send_delivery_task.delay(delivery.pk) for _ in range(2)]
    answers = [result.get(timeout=15) for result in results]

    # then it went once
    wait_for_status(delivery, Status.SENT)
    time.sleep(0.3)
    assert len(smtp.messages) == 1, answers
    assert delivery.attempts == 1


def test_a_row_the_smtp_server_refused_is_queued_again_and_delivered_by_the_sweep_when_due(
    smtp: SMTPServer, celery_worker_session: WorkerProcess, worker_factory, make_user, settings
):
    # given the only worker can't reach the SMTP server
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    ada = make_user("ada@example.com")
    settings.EMAIL_OUTBOX_RETRY_AFTER = 0
    with celery_worker_session.paused():
        cut_off = worker_factory(
            name="no-smtp",
            extra_env={"EMAIL_PORT": str(closed_port), "EMAIL_RETRY_BACKOFF": "60"},
        )

        # when
        with transaction.atomic():
            delivery = welcome(ada)

        # then the row goes back to the queue, saying why, rather than hanging in sending
        deadline = time.monotonic() + 15
        while not delivery.attempts or delivery.status != Status.QUEUED:
            assert time.monotonic() < deadline, (delivery.status, cut_off.tail())
            time.sleep(0.05)
            delivery.refresh_from_db()
        assert "ConnectionRefusedError" in delivery.last_error
        cut_off.stop()

    # and once the server is reachable again and its backoff is over, the sweep gets it
    # delivered
    assert 25 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 60
    assert sweep_outbox()["requeued"] == 0
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert sweep_outbox()["requeued"] == 1
    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("ada@example.com",)
    delivery = wait_for_status(delivery, Status.SENT)
    assert delivery.attempts == 2
