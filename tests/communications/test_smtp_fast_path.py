"""A campaign over Django's SMTP backend is serialised once per batch and each recipient's
values are written into the bytes (``communications.smtp_fast_path.send_merged``): the
messages that arrive must be the ones Django would have built, and every row must be recorded
as before."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Iterator
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import sanitize_address

from communications.kinds import rule_for
from communications.models import Campaign, Delivery, message_id_for
from communications.rendering import campaign_template, list_unsubscribe_headers, merge_values
from communications.sending import BatchRecipient, Outgoing, Result, build_message
from communications.services import (
    create_campaign,
    populate_campaign,
    send_campaign_batch,
    send_campaign_now,
)
from communications.smtp_fast_path import (
    MergedMessage,
    _envelope_address,
    individual_hand_over,
    rendered_for,
    smtp_merge_available,
)
from tests.factories import subscribers
from tests.harness.smtp import ReceivedMessage, SMTPServer, _free_port

pytestmark = pytest.mark.smtp

Status = Delivery.Status
DJANGO_SMTP = "django.core.mail.backends.smtp.EmailBackend"
BUILT_BY_DJANGO = f"{__name__}.BuiltByDjango"
NAMES = ["Ann", "Chloé", "Zoë & <Bob>", "Eun-ji 'Jay' \"J\"", "=?utf-8?q?Ann?=", "", "Łukasz"]


class BuiltByDjango(EmailBackend):
    """Django's SMTP backend with its own ``_send``: every message is built by Django."""

    def _send(self, email_message):
        return super()._send(email_message)


class ConnectsOtherwise(EmailBackend):
    """A subclass that changes only how it connects still gets the fast path."""

    def open(self):
        return super().open()


@pytest.fixture(autouse=True)
def no_broker():
    """The batch tasks are run by hand here."""
    with (
        mock.patch("communications.tasks.populate_campaign_task.delay"),
        mock.patch("communications.tasks.send_campaign_batch_task.delay"),
    ):
        yield


def campaign_of(
    kind: str, body: str = "Hello {{ first_name }}, **new lenses** are in."
) -> Campaign:
    return create_campaign(
        actor=None, name=kind, kind=kind, subject_line="News for {{ first_name }} & co", body=body
    )


def recipients_of(campaign: Campaign, users) -> list[BatchRecipient]:
    """What ``_prepare`` hands to the sender for these users."""
    marketing = rule_for(campaign.kind).is_marketing
    recipients = []
    for delivery_id, user in enumerate(users, start=1000):
        values = merge_values(
            user=user, purpose=campaign.purpose.code if marketing else None, ref=str(delivery_id)
        )
        headers = (
            list_unsubscribe_headers(
                unsubscribe_url=values["unsubscribe_url"], reference=str(delivery_id)
            )
            if marketing
            else {}
        )
        recipients.append(BatchRecipient(delivery_id, user.email, values, headers))
    return recipients


def send_both_ways(settings, smtp: SMTPServer, campaign, recipients):
    """Each recipient's message sent the fast way and built by Django, as received."""
    template = campaign_template(campaign)
    received = {}
    for backend in (DJANGO_SMTP, BUILT_BY_DJANGO):
        settings.EMAIL_BACKEND = backend
        smtp.clear()
        results = individual_hand_over(template, recipients)()
        assert all(result.ok for result in results), results
        smtp.wait_for(len(recipients))
        received[backend] = {r.to: smtp.to(r.to)[0] for r in recipients}
    return received[DJANGO_SMTP], received[BUILT_BY_DJANGO]


def headers_of(message: ReceivedMessage) -> list[tuple[str, str]]:
    """Every top-level header, decoded, but for the Date and the random boundary."""
    return [
        (name, str(value) if name != "Content-Type" else value.split(";")[0])
        for name, value in message.message.items()
        if name != "Date"
    ]


def parts_of(message: ReceivedMessage) -> list[tuple[list, str]]:
    return [(part.items(), part.get_content()) for part in message.message.iter_parts()]


# --- The same messages ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["newsletter", "service_announcement"])
def test_each_recipient_gets_the_message_django_would_have_built(
    kind, db, settings, smtp, make_user
):
    # given names with accents, markup characters and an encoded-word lookalike
    users = [make_user(f"reader{i}@example.com", first_name=name) for i, name in enumerate(NAMES)]
    campaign = campaign_of(kind)
    recipients = recipients_of(campaign, users)
    assert smtp_merge_available()
    assert MergedMessage.compile(campaign_template(campaign), recipients) is not None

    # when
    fast, built = send_both_ways(settings, smtp, campaign, recipients)

    # then: the same headers (decoded), the same parts with the same headers and content
    for recipient in recipients:
        ours, django = fast[recipient.to], built[recipient.to]
        assert headers_of(ours) == headers_of(django)
        assert parts_of(ours) == parts_of(django)
        assert ours.message["Message-ID"] == message_id_for(recipient.delivery_id)
        assert ours.message["Date"]
    chloe = fast["reader1@example.com"]
    assert chloe.subject == "News for Chloé & co"
    assert "Hello Chloé," in chloe.text()
    zoe = fast["reader2@example.com"]
    assert "Zoë &amp; Bob" in zoe.html() and "Hello Zoë & Bob," in zoe.text()


def test_a_newsletter_carries_one_click_unsubscribe_and_a_service_announcement_does_not(
    db, settings, smtp, make_user
):
    users = [make_user("ann@example.com", first_name="Ann")]
    newsletter = campaign_of("newsletter")
    announcement = campaign_of("service_announcement")

    fast_newsletter, _ = send_both_ways(
        settings, smtp, newsletter, recipients_of(newsletter, users)
    )
    fast_announcement, _ = send_both_ways(
        settings, smtp, announcement, recipients_of(announcement, users)
    )

    message = fast_newsletter["ann@example.com"].message
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<http" in message["List-Unsubscribe"] and "<mailto:" in message["List-Unsubscribe"]
    assert "List-Unsubscribe" not in fast_announcement["ann@example.com"].message


def test_an_ascii_template_is_relabelled_8bit_for_a_name_that_is_not_ascii(
    db, settings, smtp, make_user
):
    # given a template whose text part is all ASCII (7bit)
    users = [make_user("ascii@example.com", first_name="Ann"), make_user("b@example.com")]
    users[1].first_name = "Chloé"
    campaign = campaign_of("service_announcement")
    recipients = recipients_of(campaign, users)

    fast, built = send_both_ways(settings, smtp, campaign, recipients)

    for recipient, encoding in zip(recipients, ("7bit", "8bit"), strict=True):
        text_part = next(fast[recipient.to].message.iter_parts())
        assert text_part["Content-Transfer-Encoding"] == encoding
        assert parts_of(fast[recipient.to]) == parts_of(built[recipient.to])


def test_a_body_line_over_998_characters_is_left_to_django(db, settings, smtp, make_user):
    # given a body with one very long line: Django sends that part quoted-printable
    users = [make_user("ann@example.com", first_name="Ann")]
    long_line = "word" + "x" * 1200
    campaign = campaign_of("newsletter", body=f"Hello {{{{ first_name }}}}, {long_line}")
    recipients = recipients_of(campaign, users)

    # then the whole batch goes through Django, and arrives intact
    assert MergedMessage.compile(campaign_template(campaign), recipients) is None
    fast, built = send_both_ways(settings, smtp, campaign, recipients)
    assert long_line in fast["ann@example.com"].text()
    assert parts_of(fast["ann@example.com"]) == parts_of(built["ann@example.com"])


def test_a_name_that_makes_a_line_too_long_is_left_to_django_for_that_recipient_only(
    db, settings, smtp, make_user
):
    users = [make_user("ann@example.com", first_name="Ann"), make_user("long@example.com")]
    users[1].first_name = "Zoë" * 400  # 1,200 bytes on the greeting line
    campaign = campaign_of("newsletter")
    recipients = recipients_of(campaign, users)
    merged = MergedMessage.compile(campaign_template(campaign), recipients)

    assert merged.message_for(recipients[0]) is not None
    assert merged.message_for(recipients[1]) is None
    fast, built = send_both_ways(settings, smtp, campaign, recipients)
    assert "quoted-printable" in str(fast["long@example.com"].message)
    for recipient in recipients:
        assert parts_of(fast[recipient.to]) == parts_of(built[recipient.to])
        assert headers_of(fast[recipient.to]) == headers_of(built[recipient.to])


# --- Which backends --------------------------------------------------------------------------


def test_the_fast_path_is_taken_only_when_djangos_smtp_backend_would_send_the_bytes(settings):
    settings.EMAIL_BACKEND = DJANGO_SMTP
    assert smtp_merge_available()
    settings.EMAIL_BACKEND = f"{__name__}.ConnectsOtherwise"
    assert smtp_merge_available()
    settings.EMAIL_BACKEND = BUILT_BY_DJANGO
    assert not smtp_merge_available()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert not smtp_merge_available()
    settings.EMAIL_BACKEND = DJANGO_SMTP
    settings.DEFAULT_CHARSET = "iso-8859-1"
    assert not smtp_merge_available()


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.com",
        "Ann.O'Neil+news@mail.example.co.uk",
        "a!#$%&*/=?^_`{|}~-@x-y.example",
        '"quoted local"@example.com',
        "chloé@example.com",
        "ann@exämple.com",
        "Ann <ann@example.com>",
    ],
)
def test_the_envelope_address_is_what_djangos_smtp_backend_gives_smtplib(address):
    assert _envelope_address(address) == sanitize_address(address, "utf-8")


# --- Through the campaign service, to a real SMTP server ---------------------------------------


def send_campaign(campaign: Campaign) -> None:
    send_campaign_now(campaign=campaign)
    populate_campaign(campaign_id=campaign.pk)
    while send_campaign_batch(campaign_id=campaign.pk):
        pass


def test_a_campaign_arrives_with_rfc_8058_headers_and_every_row_recorded_sent(db, smtp):
    users = subscribers(5)
    campaign = campaign_of("newsletter")

    send_campaign(campaign)

    received = smtp.wait_for(5)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(u.email for u in users)
    rows = {row.user.email: row for row in Delivery.objects.filter(campaign=campaign)}
    for message in received:
        row = rows[message.rcpt_tos[0]]
        assert row.status == Status.SENT
        assert row.provider_message_id == message.message["Message-ID"]
        assert message.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/unsubscribe/" in message.message["List-Unsubscribe"]
        assert message.subject == f"News for {row.user.first_name} & co"


class Picky:
    """An SMTP server refusing some recipients (550), or closing after some messages (421)."""

    def __init__(self, *, refuse: set[str] = frozenset(), hang_up_after: int | None = None):
        self.refuse = refuse
        self.hang_up_after = hang_up_after
        self.received: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hang_up_after is not None and len(self.received) >= self.hang_up_after:
            # As a server shutting down: 421, then the connection is gone.
            asyncio.get_running_loop().call_soon(session.transport.close)
            return "421 4.3.2 Shutting down"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(str(message["To"]))
        return "250 OK"


@pytest.fixture
def picky_server(settings) -> Iterator:
    servers = []

    def start(**behaviour) -> Picky:
        handler = Picky(**behaviour)
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port("127.0.0.1"))
        controller.start()
        servers.append(controller)
        settings.EMAIL_BACKEND = DJANGO_SMTP
        settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        return handler

    yield start
    for controller in servers:
        controller.stop()


def test_a_refused_recipient_fails_only_its_own_row(db, picky_server, caplog):
    # given a server that refuses one of four addresses
    server = picky_server(refuse={"sub2@example.com"})
    subscribers(4)
    campaign = campaign_of("newsletter")

    # when
    with caplog.at_level("WARNING", logger="communications.sending"):
        send_campaign(campaign)

    # then
    rows = dict(Delivery.objects.filter(campaign=campaign).values_list("user__email", "status"))
    assert rows == {
        "sub0@example.com": Status.SENT,
        "sub1@example.com": Status.SENT,
        "sub2@example.com": Status.FAILED,
        "sub3@example.com": Status.SENT,
    }
    refused = Delivery.objects.get(campaign=campaign, user__email="sub2@example.com")
    assert "550" in refused.last_error and "sub2@example.com" not in refused.last_error
    # the log says why, without the address either
    assert "550" in caplog.text and "sub2@example.com" not in caplog.text
    assert sorted(server.received) == ["sub0@example.com", "sub1@example.com", "sub3@example.com"]


def test_after_the_server_hangs_up_mid_batch_no_later_recipient_is_reported_sent(db, picky_server):
    # given a server that takes two messages, then closes the connection
    picky_server(hang_up_after=2)
    users = subscribers(5)
    campaign = campaign_of("newsletter")
    template = campaign_template(campaign)
    recipients = recipients_of(campaign, users)

    # when
    results = individual_hand_over(template, recipients)()

    # then
    assert [result.ok for result in results] == [True, True, False, False, False]
    assert all(isinstance(result, Result) and result.error for result in results[2:])


def test_a_server_that_cannot_be_reached_fails_the_batch_for_certain(db, settings):
    settings.EMAIL_BACKEND = DJANGO_SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port("127.0.0.1")
    users = subscribers(3)
    campaign = campaign_of("newsletter")

    results = individual_hand_over(campaign_template(campaign), recipients_of(campaign, users))()

    assert [result.ok for result in results] == [False, False, False]
    assert all("ConnectionRefusedError" in result.error for result in results)


def test_the_bytes_are_djangos_but_for_the_date_and_the_boundary(db, make_user):
    # given
    users = [make_user(f"reader{i}@example.com", first_name=name) for i, name in enumerate(NAMES)]
    campaign = campaign_of("newsletter")
    template = campaign_template(campaign)
    recipients = recipients_of(campaign, users)
    merged = MergedMessage.compile(template, recipients)

    for recipient in recipients:
        # when
        ours = merged.message_for(recipient)
        outgoing = Outgoing(recipient.delivery_id, recipient.to, rendered_for(template, recipient))
        django = build_message(outgoing).message().as_bytes(linesep="\r\n")

        # then
        assert normalised(ours) == normalised(django)


def normalised(message: bytes) -> bytes:
    message = re.sub(rb"\r\nDate: [^\r]+\r\n", b"\r\nDate: -\r\n", message)
    boundary = re.search(rb'boundary="([^"]+)"', message).group(1)
    return message.replace(boundary, b"BOUNDARY")
