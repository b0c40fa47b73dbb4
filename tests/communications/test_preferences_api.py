"""/api/v1/me/preferences/: a person reads and changes their own choices, with their session
only; each change is the same decision and the same receipt as the preference centre, and input
that is not a purpose code is refused with a field error instead of a crash."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from communications.kinds import MessageKind
from communications.models import Delivery
from communications.preferences_api import MyPreferencesView
from consent.models import ConsentEvent, CurrentConsent
from consent.serializers import PreferenceChoicesSerializer
from consent.services import ConsentSource, grant_consent
from tests.factories import TEST_PASSWORD
from tests.harness.smtp import SMTPServer

PREFERENCES = "/api/v1/me/preferences/"


@pytest.fixture
def api() -> APIClient:
    return APIClient(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="shop-client/1.0")


@pytest.fixture
def as_customer(api, customer) -> APIClient:
    api.force_login(customer)
    return api


def by_code(purposes: list[dict]) -> dict[str, dict]:
    return {p["code"]: p for p in purposes}


# --- GET /api/v1/me/preferences/ -----------------------------------------------------------------


def test_a_person_reads_every_purpose_with_their_state(as_customer, customer):
    event = grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)

    response = as_customer.get(PREFERENCES)

    assert response.status_code == 200
    purposes = by_code(response.json()["purposes"])
    assert list(purposes) == [
        "newsletter",
        "special_offers",
        "surveys",
        "partner_photo",
        "service_announcements",
    ]
    newsletter = purposes["newsletter"]
    assert newsletter["name"] == "Newsletter"
    assert newsletter["wording"].startswith("Send me the Jessops newsletter")
    assert newsletter["optional"] is True
    assert newsletter["granted"] is True
    assert newsletter["legal_basis"] == "consent"
    assert newsletter["since"].startswith(event.occurred_at.date().isoformat())
    assert (purposes["surveys"]["granted"], purposes["surveys"]["since"]) == (False, None)
    mandatory = purposes["service_announcements"]
    assert (mandatory["optional"], mandatory["granted"]) == (False, True)
    assert "deactivate" in mandatory["mandatory_reason"]


@pytest.mark.parametrize("password", [TEST_PASSWORD, "wrong"])
def test_basic_auth_no_longer_logs_anyone_in(api, customer, password):
    # Customers use their session; the shop's systems use API keys (tests/api_keys).
    token = base64.b64encode(f"{customer.email}:{password}".encode()).decode()

    response = api.get(PREFERENCES, HTTP_AUTHORIZATION=f"Basic {token}")

    # 403, not 401: session authentication comes first and sends no WWW-Authenticate challenge
    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("method", ["get", "put"])
def test_an_anonymous_caller_is_refused(db, api, method):
    response = getattr(api, method)(PREFERENCES, {"choices": {"newsletter": True}}, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert not ConsentEvent.objects.exists()


# --- PUT /api/v1/me/preferences/ -----------------------------------------------------------------


def test_a_person_changes_their_choices_and_sees_what_changed(as_customer, customer):
    grant_consent(subject=customer, purpose="special_offers", source=ConsentSource.SIGNUP_FORM)

    response = as_customer.put(
        PREFERENCES,
        {"choices": {"newsletter": True, "special_offers": False, "surveys": False}},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    changed = {c["purpose"]: c["granted"] for c in body["changed"]}
    assert changed == {"newsletter": True, "special_offers": False}
    purposes = by_code(body["purposes"])
    assert purposes["newsletter"]["granted"] is True
    assert purposes["special_offers"]["granted"] is False
    # one call, one source, with where it came from (truncated IP address, user agent)
    events = ConsentEvent.objects.filter(subject=customer, source=ConsentSource.API)
    assert events.count() == 2
    assert {(e.ip_address, e.user_agent, e.actor_id) for e in events} == {
        ("198.51.100.0", "shop-client/1.0", None)
    }


def test_repeating_the_state_in_force_changes_nothing(as_customer, customer):
    grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)

    response = as_customer.put(PREFERENCES, {"choices": {"newsletter": True}}, format="json")

    assert response.status_code == 200
    assert response.json()["changed"] == []
    assert ConsentEvent.objects.filter(subject=customer).count() == 1


def test_put_calls_record_decisions_once(as_customer, customer, monkeypatch):
    # The API saves through the same service as the preference centre (decision + receipt).
    import communications.services.preferences as preferences

    calls = []
    real = preferences.record_decisions
    monkeypatch.setattr(
        preferences, "record_decisions", lambda **kw: calls.append(kw) or real(**kw)
    )

    as_customer.put(PREFERENCES, {"choices": {"newsletter": True, "surveys": True}}, format="json")

    assert len(calls) == 1
    assert calls[0]["subject"] == customer
    assert calls[0]["source"] == ConsentSource.API
    assert calls[0]["choices"] == {"newsletter": True, "surveys": True}


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"newsletter": True, "carrier_pigeon": True}, "Unknown purpose: carrier_pigeon."),
        (
            {"newsletter": True, "service_announcements": False},
            "service_announcements is mandatory: there is no consent to give or withdraw.",
        ),
    ],
)
def test_an_unknown_or_mandatory_purpose_is_refused_and_nothing_is_written(
    as_customer, choices, message
):
    response = as_customer.put(PREFERENCES, {"choices": choices}, format="json")

    assert response.status_code == 400
    assert response.json() == {"choices": [message]}
    assert not ConsentEvent.objects.exists()
    assert not CurrentConsent.objects.exists()


@pytest.mark.parametrize("value", ["yes", 1, "true", None, [True]])
def test_a_choice_that_is_not_a_json_boolean_is_refused(as_customer, value):
    response = as_customer.put(
        PREFERENCES, {"choices": {"surveys": True, "newsletter": value}}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["choices"]) == ["newsletter"]
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"choices": {}}, {"choices": ["newsletter"]}, {"newsletter": True}]
)
def test_a_body_without_choices_is_refused(as_customer, body):
    response = as_customer.put(PREFERENCES, body, format="json")

    assert response.status_code == 400
    assert "choices" in response.json()
    assert not ConsentEvent.objects.exists()


def test_a_form_encoded_body_is_refused(as_customer):
    response = as_customer.put(
        PREFERENCES, "choices=newsletter", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert not ConsentEvent.objects.exists()


# --- One service: the decision and its receipt ---------------------------------------------------


@pytest.mark.worker
@pytest.mark.smtp
def test_a_change_over_the_api_emails_the_same_receipt_as_the_preference_centre(
    smtp: SMTPServer, celery_worker, customer, as_customer
):
    # when
    response = as_customer.put(
        PREFERENCES, {"choices": {"newsletter": True, "surveys": True}}, format="json"
    )

    # then the decision is recorded and its receipt reaches the person's inbox
    assert response.status_code == 200
    assert {c["purpose"] for c in response.json()["changed"]} == {"newsletter", "surveys"}
    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("ann@example.com",)
    body = received.text()
    assert "Hello Ann" in body
    assert "(API)" in body
    assert "- Newsletter: on" in body
    assert "- Surveys and contests: on" in body
    receipt = Delivery.objects.get(kind=MessageKind.CONSENT_RECEIPT)
    assert receipt.user == customer


def test_the_receipt_row_is_written_with_the_decision(as_customer, customer, db):
    as_customer.put(PREFERENCES, {"choices": {"newsletter": True}}, format="json")

    receipt = Delivery.objects.get(kind=MessageKind.CONSENT_RECEIPT)
    assert receipt.user == customer
    assert receipt.context["source"] == "API"
    assert receipt.context["changes"] == [
        {"purpose": "Newsletter", "code": "newsletter", "granted": True}
    ]


def test_a_choice_equal_to_the_state_in_force_sends_no_receipt(as_customer, customer, db):
    as_customer.put(PREFERENCES, {"choices": {"newsletter": True}}, format="json")
    Delivery.objects.all().delete()

    response = as_customer.put(PREFERENCES, {"choices": {"newsletter": True}}, format="json")

    assert response.json()["changed"] == []
    assert not Delivery.objects.exists()


def test_a_refused_request_records_nothing_and_sends_nothing(as_customer, db):
    response = as_customer.put(
        PREFERENCES, {"choices": {"newsletter": True, "carrier_pigeon": True}}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"choices": ["Unknown purpose: carrier_pigeon."]}
    assert not ConsentEvent.objects.exists()
    assert not Delivery.objects.exists()


def test_the_view_is_served_by_the_communications_app(db):
    from django.urls import resolve

    assert resolve(PREFERENCES).func.view_class is MyPreferencesView


# --- Keys that are not purpose codes -------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "news\x00letter",
        "\x00",
        "newsletter\n",
        "news letter",
        "<script>",
        "",
        "a" * 51,
    ],
)
def test_a_key_that_is_not_a_purpose_code_is_a_400_naming_the_field(as_customer, key):
    response = as_customer.put(
        PREFERENCES, {"choices": {key: True, "newsletter": True}}, format="json"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"choices": [PreferenceChoicesSerializer.NOT_A_CODE]}
    assert not ConsentEvent.objects.exists()
    assert not CurrentConsent.objects.exists()
    assert not Delivery.objects.exists()


def test_a_nul_in_a_raw_json_body_is_a_400_not_a_crash(as_customer):
    # As the tester sent it: the escape sequence in the JSON text itself.
    response = as_customer.generic(
        "PUT",
        PREFERENCES,
        '{"choices": {"newsletter\\u0000": true}}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["choices"]
    assert not ConsentEvent.objects.exists()
