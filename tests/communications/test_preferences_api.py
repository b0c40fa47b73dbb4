"""PUT /api/v1/me/preferences/: the same decision and the same receipt as the preference centre,
and input that is not a purpose code refused with a field error instead of a crash."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from communications.kinds import MessageKind
from communications.models import Delivery
from communications.preferences_api import MyPreferencesView
from consent.models import ConsentEvent, CurrentConsent
from consent.serializers import PreferenceChoicesSerializer
from tests.harness.smtp import SMTPServer

PREFERENCES = "/api/v1/me/preferences/"


@pytest.fixture
def customer(make_user):
    return make_user("ann@example.com", first_name="Ann")


@pytest.fixture
def as_customer(customer) -> APIClient:
    api = APIClient(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="shop-client/1.0")
    api.force_login(customer)
    return api


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
