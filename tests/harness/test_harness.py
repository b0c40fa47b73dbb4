"""The test harness works end to end: a real worker, a real SMTP server, a real browser; and
the faults it makes on request."""

import smtplib
import time
from pathlib import Path

import pytest
import redis
from django.core.mail import send_mail

from communications.kinds import MessageKind
from communications.models import Delivery
from communications.services import enqueue_email
from privacy_site.celery import worker_health
from tests.harness import smtp_sink
from tests.harness.smtp_sink import SMTPSinkProcess


@pytest.mark.worker
def test_a_task_is_run_by_the_worker_process_on_the_test_database(celery_worker, settings):
    # when
    result = worker_health.delay().get(timeout=30)
    # then: the answer came from another process, which uses the database this test uses
    assert result == {"database": "ok", "name": settings.DATABASES["default"]["NAME"]}


@pytest.mark.smtp
def test_a_mail_is_received_by_the_smtp_server(smtp):
    # when
    send_mail("Hello", "Plain body", "shop@jessops.example", ["ada@example.com"])
    # then
    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.subject == "Hello"
    assert received.text().strip() == "Plain body"


@pytest.mark.browser
def test_a_page_is_opened_in_the_browser(page, live_server):
    # when
    page.goto("/")
    # then: the page rendered and our own stylesheet was applied
    assert page.locator("h1").inner_text() == "Your data, your choice"
    header_colour = page.locator(".site-header").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert header_colour == "rgb(11, 79, 138)"


@pytest.mark.worker
@pytest.mark.smtp
def test_waiting_for_an_idle_worker_lasts_until_its_task_has_ended(celery_worker, smtp, make_user):
    # given the worker sending an email the SMTP server keeps but answers only 1.5 s later
    smtp.answer_late(1.5)
    user = make_user("ada@example.com", first_name="Ada")
    delivery = enqueue_email(
        kind=MessageKind.WELCOME, user=user, context={"verify_url": "http://127.0.0.1/v/"}
    )
    smtp.wait_for(1)

    # then the message has arrived but the worker is still busy with it
    assert not celery_worker.wait_idle(timeout=0.3)
    # and waiting for it to be idle returns once the send is recorded
    assert celery_worker.wait_idle(timeout=15)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT


# --- Misbehaving on request (the fault suite's tools) --------------------------------------------


def smtp_client(server) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, timeout=0.5)


@pytest.mark.smtp
def test_the_smtp_server_stalls_a_recipient_until_the_client_gives_up(smtp):
    smtp.stall_next(1.5)

    with smtp_client(smtp) as client, pytest.raises((OSError, smtplib.SMTPException)):
        client.sendmail("shop@jessops.example", ["ada@example.com"], b"Subject: Hi\r\n\r\nBody")

    assert smtp.messages == []
    assert [what for _, what in smtp.log] == ["stalled at rcpt"]
    # the next message is accepted
    send_mail("Hello", "Plain body", "shop@jessops.example", ["ada@example.com"])
    assert len(smtp.wait_for(1)) == 1


@pytest.mark.smtp
def test_the_smtp_server_refuses_one_mailbox_every_time(smtp):
    smtp.refuse_recipient("gone@example.com", "550 5.1.1 No such user")

    for _ in range(2):
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send_mail("Hello", "Body", "shop@jessops.example", ["Gone@example.com"])
    send_mail("Hello", "Body", "shop@jessops.example", ["ada@example.com"])

    assert [message.rcpt_tos for message in smtp.wait_for(1)] == [("ada@example.com",)]
    assert [what for _, what in smtp.log][:2] == [
        "refused Gone@example.com: 550 5.1.1 No such user"
    ] * 2


def test_the_smtp_sink_counts_the_messages_of_each_recipient(redis_client, settings):
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    smtp_sink.reset(client)
    sink = SMTPSinkProcess(redis_url=settings.CELERY_BROKER_URL, count_each=True).start()
    try:
        with smtp_client(sink) as sender:
            message = b"Subject: Hi\r\n\r\nBody"
            sender.sendmail("shop@jessops.example", ["Ada@example.com", "bo@example.com"], message)
            sender.sendmail("shop@jessops.example", ["ada@example.com"], message)
        deadline = time.monotonic() + 5
        while smtp_sink.counts(client)["messages"] < 2:
            assert time.monotonic() < deadline, smtp_sink.counts(client)
            time.sleep(0.05)
        assert smtp_sink.by_recipient(client) == {"ada@example.com": 2, "bo@example.com": 1}
    finally:
        sink.stop()
        smtp_sink.reset(client)


@pytest.mark.worker
def test_a_worker_main_process_killed_takes_its_pool_children_with_it(worker_factory):
    worker = worker_factory(name="harness", concurrency=2)
    # (the pool may still be forking its second child when the worker first answers)
    deadline = time.monotonic() + 20
    while len(children := worker.pool_children()) < 2:
        assert time.monotonic() < deadline, worker.tail()
        time.sleep(0.1)

    worker.kill_pool_child(children[0])
    deadline = time.monotonic() + 20
    while children[0] in worker.pool_children() or len(worker.pool_children()) < 2:
        assert time.monotonic() < deadline, worker.tail()
        time.sleep(0.1)
    # the pool started another child; with the main process killed, kill() still reaches
    # the children it left (how soon they notice on their own depends on the machine's load)
    survivors = worker.pool_children()
    worker.kill_main()
    worker.kill()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in survivors):
        assert time.monotonic() < deadline, survivors
        time.sleep(0.1)
    worker.kill()  # nothing left to kill: no error


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True
