"""Self-service rights: a copy of everything held (HTML and JSON), deactivation undone by
logging in, and erasure after the password is typed again, with the confirmation email sent
before the data goes and nothing ever sent to the address afterwards."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.utils import DatabaseError
from django.utils import timezone

from accounts.models import AddressVerification, AuditEvent, AuditSource, PrivacyRequest, Profile
from accounts.selectors import export_personal_data
from accounts.services import update_profile
from accounts.services.privacy import (
    ConfirmationPending,
    complete_pending_erasures,
    erase_account,
    request_erasure,
)
from communications.addresses import address_hash
from communications.kinds import MessageKind
from communications.models import Delivery, Suppression
from communications.services import enqueue_email
from consent.models import ConsentEvent, CurrentConsent, Purpose
from consent.provenance import Provenance
from consent.services import ConsentSource, grant_consent, record_decisions
from consent.tokens import TokenError, TokenUse, make_token, read_token
from tests.factories import TEST_PASSWORD
from tests.harness.http import text

EXPORT = "/accounts/export/"
DEACTIVATE = "/accounts/deactivate/"
DELETE = "/accounts/delete/"
LOGIN = "/accounts/login/"

pytestmark = pytest.mark.usefixtures("clean_cache")
Status = Delivery.Status


@pytest.fixture
def ann(make_user):
    """A verified customer with a profile, choices, an email sent and a change history."""
    user = make_user("ann@example.com", first_name="Ann", last_name="Lee", verified=True)
    update_profile(
        user=user,
        actor=user,
        source=AuditSource.PROFILE_PAGE,
        address_line_1="1 High Street",
        town="Leeds",
        postcode="ls1 4ap",
        phone="07700 900123",
    )
    record_decisions(
        subject=user,
        choices={Purpose.NEWSLETTER: True, Purpose.SPECIAL_OFFERS: True},
        source=ConsentSource.SIGNUP_FORM,
        provenance=Provenance(ip_address="203.0.113.0", user_agent="Firefox"),
    )
    enqueue_email(kind=MessageKind.WELCOME, user=user, context={"verify_url": "https://x/"})
    return user


def logged_in(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


# --- Export ----------------------------------------------------------------------------------


def test_the_json_copy_holds_profile_consent_history_emails_and_changes(db, client, ann):
    response = logged_in(client, ann).get(EXPORT, {"format": "json"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="personal-data-')
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["format"] == "personal-data-export/1"
    assert data["account"]["email"] == "ann@example.com"
    assert data["account"]["email_addresses"] == [
        {"email": "ann@example.com", "verified": True, "primary": True}
    ]
    assert data["profile"]["postcode"] == "LS1 4AP"
    assert data["profile"]["phone"] == "+447700900123"
    assert data["address_checks"][0]["postcode"] == "LS1 4AP"
    assert {c["what"] for c in data["changes_to_your_details"]} >= {"postcode", "town or city"}
    history = data["consent"]["consent_history"]
    assert len(history) == 2
    for event in history:
        assert event["decision"] == "granted"
        assert event["policy_version"] == 1
        assert event["how"] == "Sign-up form"
        assert event["wording_shown"]
        assert event["ip_address_prefix"] == "203.0.113.0"
    assert len(data["consent"]["current_choices"]) == 2
    assert data["emails"]["emails"] == [
        {
            "kind": "Welcome and email verification",
            "subject": "",
            "written": data["emails"]["emails"][0]["written"],
            "sent": None,
            "status": "Queued",
            "unsubscribed_from_it": None,
        }
    ]
    assert data["third_parties"] == {
        "disclosures": [],
        "notices_to_recipients": [],
        "orders": [],
        "jessops_photo": [],
    }
    assert data["surveys"] == {"survey_entries": [], "contest_entries": []}


def test_the_readable_page_shows_the_same_data_and_offers_the_download(db, client, ann):
    response = logged_in(client, ann).get(EXPORT)

    assert response.status_code == 200
    page = text(response)
    for phrase in (
        "Everything we hold about you",
        "ann@example.com",
        "LS1 4AP",
        "+447700900123",
        "Sign-up form",
        "Welcome and email verification",
        "We have not shared your data with anyone.",
        'href="/accounts/export/?format=json"',
    ):
        assert phrase in page, phrase


def test_the_copy_holds_nobody_elses_data(db, client, ann, make_user):
    bob = make_user("bob@example.com", first_name="Bob")
    grant_consent(subject=bob, purpose=Purpose.SURVEYS, source=ConsentSource.API)

    data = json.loads(logged_in(client, ann).get(EXPORT, {"format": "json"}).content)

    assert "bob@example.com" not in json.dumps(data)
    assert "Surveys" not in {h["purpose"] for h in data["consent"]["consent_history"]}


def test_export_needs_login_and_a_known_format(db, client, ann):
    assert client.get(EXPORT).status_code == 302
    assert client.get(EXPORT)["Location"].startswith(LOGIN)

    response = logged_in(client, ann).get(EXPORT, {"format": "xml"})
    assert response.status_code == 400
    assert "Choose the format html or json." in text(response)


# --- Deactivation ----------------------------------------------------------------------------


def test_deactivating_logs_out_and_stops_every_email_including_service_ones(db, client, ann):
    response = logged_in(client, ann).post(DEACTIVATE)

    assert response.status_code == 200
    assert "Your account is deactivated" in text(response)
    assert "_auth_user_id" not in client.session
    ann.refresh_from_db()
    assert not ann.is_active and ann.deactivated_at is not None
    assert AuditEvent.objects.filter(subject=ann, field="is_active", new_value="no").exists()
    for kind in (MessageKind.SERVICE_ANNOUNCEMENT, MessageKind.NEWSLETTER):
        delivery = enqueue_email(kind=kind, user=ann)
        assert delivery.status == Status.SKIPPED_INACTIVE


def test_logging_in_again_reactivates_a_self_deactivated_account(db, client, ann):
    logged_in(client, ann).post(DEACTIVATE)

    wrong = client.post(LOGIN, {"login": "ann@example.com", "password": "not it"})
    ann.refresh_from_db()
    assert wrong.status_code == 200 and not ann.is_active

    right = client.post(LOGIN, {"login": "ann@example.com", "password": TEST_PASSWORD})

    assert right.status_code == 302
    assert client.session["_auth_user_id"] == str(ann.pk)
    ann.refresh_from_db()
    assert ann.is_active and ann.deactivated_at is None
    assert AuditEvent.objects.filter(subject=ann, field="is_active", new_value="yes").exists()
    assert enqueue_email(kind=MessageKind.SERVICE_ANNOUNCEMENT, user=ann).status == Status.QUEUED


def test_an_account_closed_by_staff_does_not_reopen_by_logging_in(db, client, ann, admin_user):
    from accounts.services import deactivate_account

    deactivate_account(user=ann, actor=admin_user, source=AuditSource.STAFF)

    response = client.post(LOGIN, {"login": "ann@example.com", "password": TEST_PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/accounts/inactive/"
    assert "_auth_user_id" not in client.session
    ann.refresh_from_db()
    assert not ann.is_active


def test_support_reactivates_from_admin_with_an_audit_row(db, client, ann, admin_user):
    logged_in(client, ann).post(DEACTIVATE)
    client.force_login(admin_user)

    client.post(
        "/admin/accounts/user/",
        {"action": "reactivate_accounts", "_selected_action": [ann.pk]},
    )

    ann.refresh_from_db()
    assert ann.is_active
    row = AuditEvent.objects.filter(subject=ann, field="is_active").order_by("-id").first()
    assert (row.new_value, row.actor, row.source) == ("yes", admin_user, AuditSource.STAFF)


def test_deactivation_needs_a_post_with_a_csrf_token(db, ann):
    from django.test import Client

    browser = logged_in(Client(enforce_csrf_checks=True), ann)

    assert browser.get(DEACTIVATE).status_code == 200
    assert browser.post(DEACTIVATE).status_code == 403
    ann.refresh_from_db()
    assert ann.is_active


# --- Erasure ---------------------------------------------------------------------------------


def test_the_delete_page_says_what_is_kept_and_why(db, client, ann):
    page = text(logged_in(client, ann).get(DELETE))

    assert "This cannot be undone" in page
    assert "prove the consent we relied on" in page
    assert "do-not-email list" in page
    assert 'for="id_password"' in page


def test_a_wrong_password_changes_nothing(db, client, ann):
    response = logged_in(client, ann).post(DELETE, {"password": "guess"})

    assert response.status_code == 400
    assert "That is not your password." in text(response)
    ann.refresh_from_db()
    assert ann.is_active and ann.erasure_requested_at is None
    assert not Delivery.objects.filter(kind=MessageKind.ERASURE_CONFIRMATION).exists()
    assert client.session["_auth_user_id"] == str(ann.pk)


def test_an_empty_password_is_a_clear_error(db, client, ann):
    response = logged_in(client, ann).post(DELETE, {})

    assert response.status_code == 400
    assert "Type your password to delete your account." in text(response)


def test_wrong_passwords_are_limited_per_account(db, client, ann, settings):
    settings.ACCOUNT_DELETE_ATTEMPTS = 3
    logged_in(client, ann)
    for _ in range(3):
        assert client.post(DELETE, {"password": "guess"}).status_code == 400

    # then even the right password is refused for now
    response = client.post(DELETE, {"password": TEST_PASSWORD})

    assert response.status_code == 429
    assert "Too many wrong passwords" in text(response)
    ann.refresh_from_db()
    assert ann.erasure_requested_at is None


def test_the_right_password_closes_the_account_and_queues_the_confirmation(
    db, client, ann, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = logged_in(client, ann).post(DELETE, {"password": TEST_PASSWORD})

    assert response.status_code == 200
    assert "Your account is closed" in text(response)
    assert "_auth_user_id" not in client.session
    ann.refresh_from_db()
    assert not ann.is_active and ann.erasure_requested_at is not None
    # the confirmation goes to the bare address, with what is kept and why
    confirmation = Delivery.objects.get(kind=MessageKind.ERASURE_CONFIRMATION)
    assert confirmation.user is None and confirmation.to_email == "ann@example.com"
    assert confirmation.status == Status.QUEUED
    assert any("consent" in item["what"] for item in confirmation.context["kept"])
    # the request is logged for staff, identity checked by the password
    request = PrivacyRequest.objects.get(subject=ann)
    assert request.request_type == "erasure" and request.channel == "self_service"
    assert request.identity_checked_at is not None and request.is_open
    # after commit: relay the confirmation, and start the erasure
    assert len(callbacks) == 2
    # and logging in no longer works, even with the right password
    response = client.post(LOGIN, {"login": "ann@example.com", "password": TEST_PASSWORD})
    assert "_auth_user_id" not in client.session


def test_erasure_sends_the_confirmation_then_erases_and_keeps_only_the_proofs(db, ann, smtp):
    ann_id = ann.pk
    request_erasure(user=ann, actor=ann)

    assert erase_account(user_id=ann_id) is True

    # the confirmation went to the person first
    (message,) = smtp.to("ann@example.com")
    assert "being deleted" in message.subject
    assert "Hello Ann" in message.text()
    assert "prove the consent" in message.text()
    assert "List-Unsubscribe" not in message.message
    confirmation = Delivery.objects.get(kind=MessageKind.ERASURE_CONFIRMATION)
    assert confirmation.status == Status.SENT
    assert confirmation.to_email == "" and confirmation.context == {}
    # the account is a pseudonym
    user = get_user_model().objects.get(pk=ann_id)
    assert user.email == f"erased-{ann_id}@erased.invalid"
    assert (user.first_name, user.last_name) == ("", "")
    assert not user.has_usable_password() and not user.is_active
    assert user.erased_at is not None and user.last_login is None
    # accounts data gone, audit values removed, the rows kept
    assert not Profile.objects.filter(user_id=ann_id).exists()
    assert not AddressVerification.objects.filter(user_id=ann_id).exists()
    assert not EmailAddress.objects.filter(user_id=ann_id).exists()
    audit = AuditEvent.objects.filter(subject_id=ann_id)
    assert audit.filter(field="postcode").get().values_redacted
    assert not audit.filter(old_value__icontains="ls1").exists()
    assert not audit.filter(new_value__icontains="LS1").exists()
    assert audit.filter(field="erased_at").exists()
    # the ledger is kept, ending with withdrawals, with no network details
    events = ConsentEvent.objects.filter(subject_id=ann_id)
    assert events.filter(granted=True).count() == 2
    assert events.filter(granted=False, source=ConsentSource.ERASURE).count() == 2
    assert not events.exclude(ip_address=None).exists()
    assert not events.exclude(user_agent="").exists()
    assert not CurrentConsent.objects.filter(subject_id=ann_id, granted=True).exists()
    # deliveries kept without the address or contents; the address suppressed by hash
    welcome = Delivery.objects.get(user_id=ann_id, kind=MessageKind.WELCOME)
    assert (welcome.to_email, welcome.context, welcome.status) == ("", {}, Status.CANCELLED)
    suppression = Suppression.objects.get(address_hash=address_hash("ann@example.com"))
    assert suppression.reason == Suppression.Reason.ERASURE
    # the request is completed, saying what was kept
    request = PrivacyRequest.objects.get(subject_id=ann_id)
    assert request.status == "completed" and "Kept:" in request.outcome
    # nothing anywhere still holds the address or the name
    assert not get_user_model().objects.filter(email__icontains="ann@").exists()


def test_an_erased_address_receives_nothing_afterwards(db, ann, smtp, make_user, client):
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)
    smtp.clear()

    # a new account with the same address, a newsletter request, an old link
    again = make_user("ANN@example.com")
    grant_consent(subject=again, purpose=Purpose.NEWSLETTER, source=ConsentSource.API)
    for kind in (MessageKind.NEWSLETTER, MessageKind.SERVICE_ANNOUNCEMENT, MessageKind.WELCOME):
        assert enqueue_email(kind=kind, user=again).status == Status.SUPPRESSED
    confirmation = enqueue_email(kind=MessageKind.OPT_IN_CONFIRMATION, to_email="ann@example.com")
    assert confirmation.status == Status.SUPPRESSED
    client.post("/newsletter/", {"email": "ann@example.com"})
    assert not Delivery.objects.filter(to_email__iexact="ann@example.com", status="queued").exists()
    assert smtp.messages == []


def test_links_in_old_emails_stop_working_after_erasure(db, ann):
    token = make_token(subject=ann, use=TokenUse.PREFERENCES)
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)

    with pytest.raises(TokenError):
        read_token(token, use=TokenUse.PREFERENCES)


def test_erasure_waits_for_the_confirmation_while_the_provider_is_down(db, ann, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    request_erasure(user=ann, actor=ann)

    with pytest.raises(ConfirmationPending):
        erase_account(user_id=ann.pk)

    ann.refresh_from_db()
    assert ann.erased_at is None and ann.email == "ann@example.com"
    assert Profile.objects.filter(user=ann).exists()


def test_erasure_goes_ahead_without_the_confirmation_after_the_wait(db, ann, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    settings.EMAIL_RETRY_BACKOFF = 0  # the refused send may be tried again at once
    request_erasure(user=ann, actor=ann)
    type(ann).objects.filter(pk=ann.pk).update(
        erasure_requested_at=timezone.now()
        - timedelta(seconds=settings.ACCOUNT_ERASURE_CONFIRMATION_WAIT + 1)
    )

    assert complete_pending_erasures() == [ann.pk]

    ann.refresh_from_db()
    assert ann.erased_at is not None
    # the unsent confirmation can never go now: its address is suppressed
    confirmation = Delivery.objects.get(kind=MessageKind.ERASURE_CONFIRMATION)
    assert confirmation.status == Status.QUEUED
    from communications.services import send_delivery

    assert send_delivery(delivery_id=confirmation.pk) == Status.SUPPRESSED
    assert Delivery.objects.get(pk=confirmation.pk).to_email == ""


def test_erasing_twice_changes_nothing_more(db, ann, smtp):
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)
    before = list(AuditEvent.objects.filter(subject=ann).values_list("id", flat=True))

    assert erase_account(user_id=ann.pk) is True

    assert list(AuditEvent.objects.filter(subject=ann).values_list("id", flat=True)) == before
    assert len(smtp.messages) == 1


def test_an_erased_account_cannot_be_exported_or_reactivated(db, ann, smtp):
    from accounts.services import PrivacyError, reactivate_account

    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)
    ann.refresh_from_db()

    with pytest.raises(PrivacyError):
        export_personal_data(ann)
    with pytest.raises(PrivacyError):
        reactivate_account(user=ann, actor=None)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_ledger_still_refuses_every_change_but_removing_network_details(db, ann):
    event = ConsentEvent.objects.filter(subject=ann).first()

    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        from django.db import transaction

        with transaction.atomic():
            cursor.execute(
                "UPDATE consent_consentevent SET granted = NOT granted, ip_address = NULL, "
                "user_agent = '' WHERE id = %s",
                [event.pk],
            )
    ConsentEvent.objects.filter(pk=event.pk).update(ip_address=None, user_agent="")
    event.refresh_from_db()
    assert event.ip_address is None and event.user_agent == ""


def test_erasure_waits_while_another_worker_is_sending_the_confirmation(db, ann, monkeypatch):
    import accounts.services.privacy as privacy

    monkeypatch.setattr(privacy, "SENDING_WAIT", 0.4)
    request_erasure(user=ann, actor=ann)
    Delivery.objects.filter(kind=MessageKind.ERASURE_CONFIRMATION).update(status=Status.SENDING)

    with pytest.raises(ConfirmationPending, match="sending"):
        erase_account(user_id=ann.pk)

    ann.refresh_from_db()
    assert ann.erased_at is None
