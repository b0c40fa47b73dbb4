"""A campaign over SMTP to a server offering PIPELINING (RFC 2920), as the mail servers a
campaign goes to do: the envelope (MAIL, RCPT, DATA) goes in one write, the claim's progress
is written while the server answers it, and the message itself only after both. The same
messages arrive, each at most once, and a claim lost on the way stops the batch before the
next message is handed over."""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib
from collections.abc import Iterator, Sequence
from unittest import mock

import pytest
from aiosmtpd.controller import Controller

from communications.models import Campaign, Delivery
from communications.rendering import campaign_template, list_unsubscribe_headers, merge_values
from communications.sending import BatchRecipient, Failure, Result
from communications.services import (
    create_campaign,
    populate_campaign,
    send_campaign_batch,
    send_campaign_now,
)
from communications.smtp_fast_path import individual_hand_over
from tests.factories import subscribers
from tests.harness.smtp import _free_port

pytestmark = pytest.mark.smtp

Status = Delivery.Status


class Pipelining:
    """An aiosmtpd handler offering PIPELINING: it keeps each message, can refuse some
    recipients (550) or answer one RCPT 421 and hang up."""

    def __init__(self, *, refuse: Sequence[str] = (), hang_up_at: str | None = None) -> None:
        self.refuse = set(refuse)
        self.hang_up_at = hang_up_at
        self.received: list[str] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.hang_up_at:
            self.hang_up_at = None
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.3.2 Shutting down"
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(str(message["To"]))
        return "250 OK"


@pytest.fixture
def pipelining_server(settings) -> Iterator:
    controllers = []

    def start(**behaviour) -> Pipelining:
        handler = Pipelining(**behaviour)
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port("127.0.0.1"))
        controller.start()
        controllers.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        return handler

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(autouse=True)
def no_broker():
    with (
        mock.patch("communications.tasks.populate_campaign_task.delay"),
        mock.patch("communications.tasks.send_campaign_batch_task.delay"),
    ):
        yield


def newsletter() -> Campaign:
    return create_campaign(
        actor=None, name="n", kind="newsletter", subject_line="News, {{ first_name }}", body="Hi"
    )


def recipients_for(campaign: Campaign, users) -> list[BatchRecipient]:
    recipients = []
    for delivery_id, user in enumerate(users, start=500):
        values = merge_values(user=user, purpose=campaign.purpose.code, ref=str(delivery_id))
        headers = list_unsubscribe_headers(
            unsubscribe_url=values["unsubscribe_url"], reference=str(delivery_id)
        )
        recipients.append(BatchRecipient(delivery_id, user.email, values, headers))
    return recipients


class Watching:
    """A ``Progress`` noting, at each ``begin``, how many messages the server already had;
    it gives the claim up at the ``lose_at``-th message."""

    def __init__(self, server: Pipelining, lose_at: int | None = None) -> None:
        self.server, self.lose_at = server, lose_at
        self.seen_at_begin: list[int] = []

    def begin(self, delivery_ids: Sequence[int], done: Sequence[Result]) -> bool:
        self.seen_at_begin.append(len(self.server.received))
        return len(self.seen_at_begin) != self.lose_at


def test_a_campaign_goes_out_with_one_write_for_the_envelope_and_every_row_recorded(
    db, pipelining_server
):
    # given
    server = pipelining_server()
    users = subscribers(6)
    campaign = newsletter()
    writes = []
    real_send = smtplib.SMTP.send

    def counted(smtp, data):
        writes.append(data.encode() if isinstance(data, str) else data)
        return real_send(smtp, data)

    # when
    with mock.patch.object(smtplib.SMTP, "send", counted):
        send_campaign_now(campaign=campaign)
        populate_campaign(campaign_id=campaign.pk)
        while send_campaign_batch(campaign_id=campaign.pk):
            pass

    # then everyone got the campaign once, and every row says sent
    assert sorted(server.received) == sorted(user.email for user in users)
    statuses = Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)
    assert list(statuses) == [Status.SENT] * 6
    # and each message took two writes: the envelope (MAIL, RCPT, DATA at once), the message
    envelopes = [w for w in writes if w.lower().startswith(b"mail from:")]
    assert len(envelopes) == 6
    assert all(w.count(b"\r\n") == 3 and w.lower().endswith(b"data\r\n") for w in envelopes)


def test_the_progress_is_written_before_each_message_is_handed_over(db, pipelining_server):
    server = pipelining_server()
    campaign = newsletter()
    recipients = recipients_for(campaign, subscribers(5))
    progress = Watching(server)

    results = individual_hand_over(campaign_template(campaign), recipients)(progress=progress)

    assert all(result.ok for result in results)
    # at the k-th begin the server had the k-1 messages before it, not the k-th
    assert progress.seen_at_begin == [0, 1, 2, 3, 4]


def test_a_claim_lost_mid_batch_hands_nothing_more_over(db, pipelining_server):
    # given a batch whose claim is gone when the third message is about to go
    server = pipelining_server()
    campaign = newsletter()
    recipients = recipients_for(campaign, subscribers(5))

    # when
    results = individual_hand_over(campaign_template(campaign), recipients)(
        progress=Watching(server, lose_at=3)
    )

    # then the first two went, the rest were not tried and are not on the server
    assert [result.ok for result in results] == [True, True, False, False, False]
    assert {result.failure for result in results[2:]} == {Failure.NOT_TRIED}
    assert sorted(server.received) == sorted(r.to for r in recipients[:2])


def test_a_refused_recipient_fails_only_its_row_and_the_connection_goes_on(db, pipelining_server):
    server = pipelining_server(refuse=["sub1@example.com"])
    campaign = newsletter()
    recipients = recipients_for(campaign, subscribers(4))

    results = individual_hand_over(campaign_template(campaign), recipients)()

    assert [result.ok for result in results] == [True, False, True, True]
    assert results[1].failure is Failure.PERMANENT and "550" in results[1].error
    assert sorted(server.received) == ["sub0@example.com", "sub2@example.com", "sub3@example.com"]


def test_a_server_closing_at_the_recipient_leaves_that_message_to_try_again(db, pipelining_server):
    # given a server that answers the second recipient 421 and hangs up
    server = pipelining_server(hang_up_at="sub1@example.com")
    campaign = newsletter()
    recipients = recipients_for(campaign, subscribers(4))

    results = individual_hand_over(campaign_template(campaign), recipients)()

    # then that message was not handed over (temporary, tried again later); a new
    # connection takes the rest
    assert [result.ok for result in results] == [True, False, True, True]
    assert results[1].failure is Failure.TEMPORARY
    assert sorted(server.received) == ["sub0@example.com", "sub2@example.com", "sub3@example.com"]
