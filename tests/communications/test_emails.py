"""What the emails say and carry, and the consent flows that now email through the outbox."""

from __future__ import annotations

import re
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.db import transaction
from django.template.loader import get_template
from django.utils import timezone

from communications.kinds import CAMPAIGN_KINDS, STAFF_CAMPAIGN_KINDS, MessageKind, rule_for
from communications.models import Delivery
from communications.rendering import (
    campaign_template,
    personalise,
    render_transactional,
    sanitise_body,
)
from communications.services import create_campaign, enqueue_email, send_delivery
from communications.services.preferences import save_preferences
from consent.models import ConsentEvent, Purpose
from consent.provenance import NO_PROVENANCE
from consent.selectors import consent_status
from consent.services import ConsentSource, grant_consent
from consent.tokens import TokenUse, make_token, read_token
from tests.factories import DeliveryFactory
from tests.harness.http import text

Status = Delivery.Status

SAMPLE_CONTEXT = {
    MessageKind.WELCOME: {"verify_url": "https://shop.example/verify/abc/"},
    MessageKind.CONSENT_RECEIPT: {
        "changes": [{"purpose": "Newsletter", "code": "newsletter", "granted": True}],
        "policy_version": 1,
        "occurred_at": "1 January 2026, 10:00",
        "source": "Preference centre",
    },
    MessageKind.OPT_IN_CONFIRMATION: {
        "confirm_url": "https://shop.example/newsletter/confirm/abc/",
        "wording": "Send me the newsletter.",
        "first_name": "Nia",
        "valid_days": 7,
    },
    MessageKind.REFERRAL: {
        "sender_name": "Ann",
        "friend_name": "Bo",
        "items": [{"name": "Tripod", "url": "https://shop.example/wishlist/from/t/"}],
        "visit_url": "https://shop.example/wishlist/from/t/",
        "message": "For my birthday",
    },
    MessageKind.CONTEST_WINNER: {
        "contest_name": "Summer photo contest",
        "prize": "a camera",
        "sponsor_name": "CEWE",
    },
    MessageKind.RECIPIENT_NOTICE: {
        "party_name": "Parcelforce",
        "event": "rectification",
        "occurred_on": "1 January 2026",
        "categories": ["Postal address"],
        "references": ["order 1001"],
        "notice_id": "6f1c0d3e-2b7a-4c55-9d0e-1a2b3c4d5e6f",
    },
}


pytestmark = pytest.mark.usefixtures("locmem_email")


# --- Templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(set(MessageKind.values) - {MessageKind.CAMPAIGN_TEST}))
def test_every_kind_has_an_html_and_a_plain_text_template_on_the_shared_layout(kind):
    for extension, layout in (("html", "_layout.html"), ("txt", "_layout.txt")):
        template = get_template(f"emails/{kind}.{extension}")
        source = template.template.source
        chain = source + "".join(
            get_template(name).template.source for name in re.findall(r'extends "([^"]+)"', source)
        )
        assert layout in chain or "_campaign" in chain, (kind, extension)


@pytest.mark.parametrize("kind", sorted(SAMPLE_CONTEXT))
def test_every_transactional_kind_renders_with_its_context(db, make_user, kind):
    user = None if rule_for(kind).to_address else make_user("ann@example.com", first_name="Ann")

    rendered = render_transactional(kind=kind, user=user, context=SAMPLE_CONTEXT[kind])

    assert rendered.subject and "\n" not in rendered.subject
    assert "<html" in rendered.html and rendered.text.strip()
    assert "https://shop.example/privacy/" in rendered.text
    if user is not None:
        # Transactional emails to an account carry the preference centre, no login needed.
        assert "https://shop.example/preferences/" in rendered.text
        assert "https://shop.example/preferences/" in rendered.html
        assert "List-Unsubscribe" not in rendered.headers
    else:
        assert "/preferences/" not in rendered.text


@pytest.mark.parametrize("kind", sorted(CAMPAIGN_KINDS))
def test_every_campaign_kind_renders_and_marketing_ones_carry_unsubscribe(db, make_user, kind):
    user = make_user("ann@example.com", first_name="Ann")
    campaign = create_campaign(
        actor=None,
        name="c",
        kind=kind,
        subject_line="News for {{ first_name }}",
        body="**Hello**",
        notice=kind not in STAFF_CAMPAIGN_KINDS,
    )

    rendered = personalise(campaign_template(campaign), user=user, ref="42")

    assert rendered.subject == "News for Ann"
    assert "<strong>Hello</strong>" in rendered.html
    assert "Hello Ann," in rendered.text
    assert "https://shop.example/preferences/" in rendered.html
    if rule_for(kind).is_marketing:
        unsubscribe_url = re.search(
            r"<(https://shop.example/unsubscribe/[^>]+)>", rendered.headers["List-Unsubscribe"]
        )[1]
        assert unsubscribe_url in rendered.html  # the visible link
        assert unsubscribe_url in rendered.text
        assert "mailto:" in rendered.headers["List-Unsubscribe"]
        assert rendered.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        claim = read_token(unsubscribe_url.rstrip("/").rsplit("/", 1)[1], use=TokenUse.UNSUBSCRIBE)
        assert (claim.subject, claim.purpose, claim.ref) == (user, rule_for(kind).purpose, "42")
    else:
        # Service announcements have no opt-out but deactivation: no unsubscribe offered.
        assert "List-Unsubscribe" not in rendered.headers
        assert "/unsubscribe/" not in rendered.html


# --- Sanitising campaign bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "body_format"),
    [
        (
            '<p onclick="steal()">Hi</p><script>alert(1)</script><style>p{}</style>'
            '<a href="javascript:alert(1)">x</a><img src="data:image/png;base64,AA" alt="a">',
            "html",
        ),
        (
            "Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n"
            '<p onclick="steal()">p</p>',
            "markdown",
        ),
    ],
)
def test_campaign_bodies_lose_scripts_handlers_and_unsafe_urls(body, body_format):
    html, text_version = sanitise_body(body, body_format)

    for unsafe in ("<script", "onclick", "javascript:", "<style", "data:image"):
        assert unsafe not in html
    assert "alert(1)" not in text_version or "javascript" not in text_version


def test_markdown_becomes_html_and_links_keep_their_url_in_the_text_version():
    html, text_version = sanitise_body(
        "# Sale\n\nSee [our shop](https://shop.example/).", "markdown"
    )

    assert "<h1>Sale</h1>" in html
    assert 'href="https://shop.example/"' in html
    assert "our shop (https://shop.example/)" in text_version


def test_a_first_name_is_escaped_in_html_and_plain_in_text(db, make_user):
    user = make_user("ann@example.com", first_name="Ann & <b>Bob</b>")
    campaign = create_campaign(actor=None, name="c", kind="newsletter", subject_line="Hi", body="x")

    rendered = personalise(campaign_template(campaign), user=user, ref="1")

    # Angle brackets never reach a merge value (providers don't escape merge data).
    assert "Hello Ann &amp; bBob/b," in rendered.html
    assert "Hello Ann & bBob/b," in rendered.text


# --- The outbox --------------------------------------------------------------------------------


def test_a_queued_row_is_relayed_only_after_its_transaction_commits(
    db, make_user, django_capture_on_commit_callbacks, relay_off
):
    user = make_user("ann@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        delivery = enqueue_email(
            kind=MessageKind.WELCOME, user=user, context=SAMPLE_CONTEXT[MessageKind.WELCOME]
        )
        relay_off.assert_not_called()

    relay_off.assert_called_once_with(delivery.pk)
    assert delivery.status == Status.QUEUED


def test_a_rolled_back_change_leaves_no_email_behind(db, make_user, relay_off):
    user = make_user("ann@example.com")

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_email(kind=MessageKind.WELCOME, user=user, context={})
        raise RuntimeError("the change failed")

    assert not Delivery.objects.exists()


def test_sending_a_row_gives_it_a_message_id_and_records_the_result(db, make_user, relay_off):
    user = make_user("ann@example.com")
    delivery = enqueue_email(kind=MessageKind.WELCOME, user=user, context={"verify_url": "u"})

    assert send_delivery(delivery_id=delivery.pk) == Status.SENT
    assert send_delivery(delivery_id=delivery.pk) == Status.SENT  # twice: sent once

    [message] = mail.outbox
    delivery.refresh_from_db()
    assert message.extra_headers["Message-ID"] == delivery.message_id
    assert delivery.message_id == f"<delivery-{delivery.pk}@jessops.example>"
    assert (delivery.status, delivery.attempts) == (Status.SENT, 1)
    assert delivery.sent_at is not None


def test_a_message_the_gate_refuses_is_recorded_with_the_reason_and_never_relayed(
    db, make_user, django_capture_on_commit_callbacks, relay_off
):
    user = make_user("ann@example.com", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        delivery = enqueue_email(kind=MessageKind.CONSENT_RECEIPT, user=user, context={})

    relay_off.assert_not_called()
    assert delivery.status == Status.SKIPPED_INACTIVE
    assert delivery.last_error == "account deactivated"


def test_the_gate_is_asked_again_at_send_time(db, make_user, relay_off):
    user = make_user("ann@example.com")
    delivery = enqueue_email(kind=MessageKind.WELCOME, user=user, context={})
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert send_delivery(delivery_id=delivery.pk) == Status.SKIPPED_INACTIVE
    assert mail.outbox == []


def test_a_temporary_failure_goes_back_to_the_queue_with_a_backoff_until_the_attempts_run_out(
    db, make_user, settings, relay_off
):
    settings.EMAIL_MAX_ATTEMPTS = 2
    settings.EMAIL_RETRY_BACKOFF = 60
    user = make_user("ann@example.com")
    delivery = enqueue_email(kind=MessageKind.WELCOME, user=user, context={})

    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=ConnectionRefusedError("provider down"),
    ):
        assert send_delivery(delivery_id=delivery.pk) == Status.QUEUED
        delivery.refresh_from_db()
        # not tried again before its backoff is over (30-60 s after the first try)
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        assert 25 < wait <= 60
        assert send_delivery(delivery_id=delivery.pk) == Status.QUEUED
        delivery.refresh_from_db()
        assert delivery.attempts == 1
        # once due, tried again; the last try gives up
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert send_delivery(delivery_id=delivery.pk) == Status.FAILED

    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.last_error.startswith("gave up after 2 attempts: ")
    assert "provider down" in delivery.last_error


def test_a_permanent_refusal_fails_at_once(db, make_user, relay_off):
    user = make_user("ann@example.com")
    delivery = enqueue_email(kind=MessageKind.WELCOME, user=user, context={})

    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=smtplib.SMTPDataError(554, b"5.7.1 Message rejected"),
    ):
        assert send_delivery(delivery_id=delivery.pk) == Status.FAILED

    delivery.refresh_from_db()
    assert delivery.attempts == 1 and "554" in delivery.last_error


def test_an_address_only_message_forgets_the_address_once_sent(db, relay_off):
    delivery = enqueue_email(
        kind=MessageKind.ERASURE_CONFIRMATION,
        to_email="gone@example.com",
        context={"requested_on": "1 January 2026", "kept": []},
    )

    send_delivery(delivery_id=delivery.pk)

    assert mail.outbox[0].to == ["gone@example.com"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.to_email, delivery.context) == (Status.SENT, "", {})


def test_an_account_kind_without_an_account_is_refused_before_anything_is_written(db):
    with pytest.raises(ValueError, match="needs an account"):
        enqueue_email(kind=MessageKind.WELCOME, to_email="x@example.com")
    assert not Delivery.objects.exists()


# --- Newsletter double opt-in ------------------------------------------------------------------


def test_asking_for_the_newsletter_emails_the_confirmation_link(client, db, relay_off):
    response = client.post(
        "/newsletter/", {"email": "Nia@Example.com", "first_name": "Nia", "last_name": "Jones"}
    )

    assert response.status_code == 200
    [delivery] = Delivery.objects.all()
    assert (delivery.kind, delivery.to_email, delivery.user) == (
        MessageKind.OPT_IN_CONFIRMATION,
        "nia@example.com",
        None,
    )
    assert send_delivery(delivery_id=delivery.pk) == Status.SENT
    [message] = mail.outbox
    assert message.to == ["nia@example.com"]
    link = re.search(r"https://shop.example(/newsletter/confirm/[^/\s]+/)", message.body)[1]
    assert Purpose.objects.get(code="newsletter").wording in message.body
    # The link is not on the page: only the owner of the mailbox can follow it.
    assert "/newsletter/confirm/" not in text(response)

    client.post(link)

    subscriber = ConsentEvent.objects.get().subject
    assert subscriber.email == "nia@example.com"
    assert consent_status(subject=subscriber)["newsletter"].granted
    receipt = Delivery.objects.get(kind=MessageKind.CONSENT_RECEIPT)
    assert receipt.user == subscriber
    assert receipt.context["changes"] == [
        {"purpose": "Newsletter", "code": "newsletter", "granted": True}
    ]
    delivery.refresh_from_db()
    assert (delivery.to_email, delivery.context) == ("", {})


def test_a_known_and_an_unknown_address_get_the_same_answer(client, db, make_user, relay_off):
    make_user("known@example.com")

    known = client.post("/newsletter/", {"email": "known@example.com", "first_name": "K"})
    unknown = client.post("/newsletter/", {"email": "new@example.com", "first_name": "K"})

    assert known.status_code == unknown.status_code == 200
    assert _page_body(known) == _page_body(unknown)


def _page_body(response) -> str:
    """The page without the per-request CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text(response))


def test_a_suppressed_address_gets_no_confirmation_and_nothing_of_it_is_kept(client, db, relay_off):
    from communications.services import suppress_address

    suppress_address("nia@example.com", reason="complaint")

    response = client.post("/newsletter/", {"email": "nia@example.com", "first_name": "Nia"})

    assert response.status_code == 200
    [delivery] = Delivery.objects.all()
    assert (delivery.status, delivery.to_email, delivery.context) == (Status.SUPPRESSED, "", {})
    relay_off.assert_not_called()


# --- Consent receipts --------------------------------------------------------------------------


def test_a_preference_change_writes_a_receipt_with_what_changed_and_the_policy_version(
    client, db, make_user, relay_off
):
    user = make_user("ann@example.com", first_name="Ann")
    grant_consent(subject=user, purpose="surveys", source=ConsentSource.SIGNUP_FORM)
    client.force_login(user)

    client.post("/preferences/", {"newsletter": "on", "special_offers": "on"})

    [receipt] = Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT)
    assert receipt.user == user
    assert receipt.context["policy_version"] == 1
    assert receipt.context["source"] == "Preference centre"
    assert {c["code"]: c["granted"] for c in receipt.context["changes"]} == {
        "newsletter": True,
        "special_offers": True,
        "surveys": False,
    }
    send_delivery(delivery_id=receipt.pk)
    [message] = mail.outbox
    assert "Surveys and contests: off" in message.body
    assert "version 1 of our privacy policy" in message.body


def test_saving_unchanged_choices_sends_no_receipt(client, db, make_user, relay_off):
    user = make_user("ann@example.com")
    grant_consent(subject=user, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    client.force_login(user)

    client.post("/preferences/", {"newsletter": "on"})

    assert not Delivery.objects.exists()


def test_the_receipt_and_the_decision_commit_or_roll_back_together(db, make_user, relay_off):
    user = make_user("ann@example.com")

    with pytest.raises(RuntimeError), transaction.atomic():
        save_preferences(
            subject=user,
            choices={"newsletter": True},
            source=ConsentSource.PREFERENCE_CENTRE,
            provenance=NO_PROVENANCE,
        )
        raise RuntimeError("later step failed")

    assert not ConsentEvent.objects.exists()
    assert not Delivery.objects.exists()


def test_the_preference_link_in_a_receipt_works_without_login(client, db, make_user, relay_off):
    user = make_user("ann@example.com")
    token = make_token(subject=user, use=TokenUse.PREFERENCES)

    client.post(f"/preferences/{token}/", {"newsletter": "on"})

    receipt = Delivery.objects.get(kind=MessageKind.CONSENT_RECEIPT)
    send_delivery(delivery_id=receipt.pk)
    link = re.search(r"https://shop.example(/preferences/[^/\s]+/)", mail.outbox[0].body)[1]
    assert client.get(link).status_code == 200


def test_unsubscribing_sends_nothing_more_and_marks_the_email_it_came_from(
    client, db, make_user, relay_off
):
    user = make_user("ann@example.com", consents=["newsletter"])
    delivery = DeliveryFactory(user=user)
    token = make_token(
        subject=user, use=TokenUse.UNSUBSCRIBE, purpose="newsletter", ref=str(delivery.pk)
    )

    client.post(f"/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})

    assert not consent_status(subject=user)["newsletter"].granted
    delivery.refresh_from_db()
    assert delivery.unsubscribed_at is not None
    assert not Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT).exists()


def test_subjects_are_plain_text_not_html_escaped(db):
    rendered = render_transactional(
        kind=MessageKind.REFERRAL,
        user=None,
        context={**SAMPLE_CONTEXT[MessageKind.REFERRAL], "sender_name": "Tom O'Brien & Co"},
    )

    assert rendered.subject == "Tom O'Brien & Co shared a wishlist with you"


def test_a_verification_link_is_not_kept_once_the_welcome_has_gone(db, make_user, relay_off):
    user = make_user("ann@example.com")
    delivery = enqueue_email(
        kind=MessageKind.WELCOME, user=user, context={"verify_url": "https://shop.example/v/1/"}
    )

    send_delivery(delivery_id=delivery.pk)

    assert "https://shop.example/v/1/" in mail.outbox[0].body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.context, delivery.to_email) == (
        Status.SENT,
        {},
        "ann@example.com",
    )
