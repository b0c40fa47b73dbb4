"""The consent REST API: a person's own preferences, staff reading a consent record, the schema."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from api_keys.models import Scope
from api_keys.services import issue_api_key
from consent.models import ConsentEvent, CurrentConsent
from consent.services import ConsentSource as Source
from consent.services import grant_consent, record_decisions, withdraw_consent

pytestmark = pytest.mark.django_db

PASSWORD = "a long test password"
PREFERENCES = "/api/v1/me/preferences/"
CONSENTS = "/api/v1/consents/"


@pytest.fixture
def customer(make_user):
    return make_user("ann@example.com")


@pytest.fixture
def api() -> APIClient:
    return APIClient(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="shop-client/1.0")


@pytest.fixture
def as_customer(api, customer) -> APIClient:
    api.force_login(customer)
    return api


def staff_with(make_user, email: str, *codenames: str):
    user = make_user(email, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def officer(make_user):
    return staff_with(make_user, "officer@jessops.example", "view_consentevent")


def by_code(purposes: list[dict]) -> dict[str, dict]:
    return {p["code"]: p for p in purposes}


# --- GET /api/v1/me/preferences/ -----------------------------------------------------------------


def test_a_person_reads_every_purpose_with_their_state(as_customer, customer):
    event = grant_consent(subject=customer, purpose="newsletter", source=Source.SIGNUP_FORM)

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


@pytest.mark.parametrize("password", [PASSWORD, "wrong"])
def test_basic_auth_no_longer_logs_anyone_in(api, customer, password):
    # Customers use their session; the shop's systems use API keys (tests/api_keys).
    token = base64.b64encode(f"{customer.email}:{password}".encode()).decode()

    response = api.get(PREFERENCES, HTTP_AUTHORIZATION=f"Basic {token}")

    # 403, not 401: session authentication comes first and sends no WWW-Authenticate challenge
    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("method", ["get", "put"])
def test_an_anonymous_caller_is_refused(api, method):
    response = getattr(api, method)(PREFERENCES, {"choices": {"newsletter": True}}, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert not ConsentEvent.objects.exists()


# --- PUT /api/v1/me/preferences/ -----------------------------------------------------------------


def test_a_person_changes_their_choices_and_sees_what_changed(as_customer, customer):
    grant_consent(subject=customer, purpose="special_offers", source=Source.SIGNUP_FORM)

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
    events = ConsentEvent.objects.filter(subject=customer, source=Source.API)
    assert events.count() == 2
    assert {(e.ip_address, e.user_agent, e.actor_id) for e in events} == {
        ("198.51.100.0", "shop-client/1.0", None)
    }


def test_repeating_the_state_in_force_changes_nothing(as_customer, customer):
    grant_consent(subject=customer, purpose="newsletter", source=Source.SIGNUP_FORM)

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
    assert calls[0]["source"] == Source.API
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


# --- GET /api/v1/consents/?email= (staff) --------------------------------------------------------


def test_staff_with_permission_read_a_persons_state_and_full_history(
    api, officer, customer, make_user
):
    clerk = make_user("clerk@jessops.example", is_staff=True)
    grant_consent(subject=customer, purpose="newsletter", source=Source.SIGNUP_FORM)
    withdraw_consent(subject=customer, purpose="newsletter", source=Source.STAFF, actor=clerk)
    record_decisions(
        subject=customer,
        choices={"special_offers": True},
        source=Source.ORDER_FORM,
        legal_basis="soft_opt_in",
    )
    api.force_login(officer)

    response = api.get(CONSENTS, {"email": "ANN@Example.COM"})

    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == {"id": customer.pk, "email": "ann@example.com", "is_active": True}
    current = by_code(body["current"])
    assert current["newsletter"]["granted"] is False
    assert current["special_offers"]["granted"] is True
    assert current["special_offers"]["legal_basis"] == "soft_opt_in"
    history = body["history"]
    assert [(h["purpose"], h["granted"], h["source"]) for h in history] == [
        ("special_offers", True, "order_form"),
        ("newsletter", False, "staff"),
        ("newsletter", True, "signup_form"),
    ]
    offer, withdrawal, grant = history
    assert offer["legal_basis"] == "soft_opt_in"
    assert withdrawal["actor_email"] == "clerk@jessops.example"
    assert grant["actor_email"] is None
    assert grant["policy_version"] == 1
    assert grant["wording"].startswith("Send me the Jessops newsletter")
    assert set(grant) >= {"occurred_at", "ip_address", "legal_basis"}


def test_the_history_shows_the_truncated_ip_address(api, officer, customer, as_customer):
    as_customer.put(PREFERENCES, {"choices": {"newsletter": True}}, format="json")
    staff_api = APIClient()
    staff_api.force_login(officer)

    response = staff_api.get(CONSENTS, {"email": customer.email})

    assert response.json()["history"][0]["ip_address"] == "198.51.100.0"


def test_reading_a_consent_record_costs_a_fixed_number_of_queries(
    api, officer, customer, django_assert_max_num_queries
):
    for _ in range(5):
        grant_consent(subject=customer, purpose="newsletter", source=Source.API)
        withdraw_consent(subject=customer, purpose="newsletter", source=Source.API, actor=officer)
    api.force_login(officer)

    with django_assert_max_num_queries(8):
        response = api.get(CONSENTS, {"email": customer.email})

    assert len(response.json()["history"]) == 10


def test_a_missing_email_parameter_is_a_400(api, officer):
    api.force_login(officer)

    response = api.get(CONSENTS)

    assert response.status_code == 400
    assert response.json() == {"email": ["This field is required."]}


def test_an_unknown_email_is_a_404(api, officer):
    api.force_login(officer)

    response = api.get(CONSENTS, {"email": "nobody@example.com"})

    assert response.status_code == 404
    assert list(response.json()) == ["detail"]


@pytest.mark.parametrize(
    ("is_staff", "codenames"),
    [
        (False, ["view_consentevent"]),  # the permission without staff status
        (True, []),  # staff without the permission
        (True, ["view_purpose", "view_currentconsent"]),  # other consent permissions
    ],
)
def test_the_wrong_user_is_refused_a_consent_record(api, make_user, customer, is_staff, codenames):
    grant_consent(subject=customer, purpose="newsletter", source=Source.SIGNUP_FORM)
    user = make_user("someone@jessops.example", is_staff=is_staff)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    api.force_login(user)

    known = api.get(CONSENTS, {"email": customer.email})
    unknown = api.get(CONSENTS, {"email": "nobody@example.com"})

    # the same 403 whether or not the address exists: a refused caller learns nothing
    assert known.status_code == unknown.status_code == 403
    assert known.json() == unknown.json()
    assert "history" not in known.json()


def test_a_customer_cannot_read_their_own_record_through_the_staff_endpoint(as_customer, customer):
    assert as_customer.get(CONSENTS, {"email": customer.email}).status_code == 403


def test_an_anonymous_caller_is_refused_a_consent_record(api, customer):
    assert api.get(CONSENTS, {"email": customer.email}).status_code == 403


def test_a_system_key_with_consents_read_reads_a_record_without_a_session(
    api, officer, customer, clean_cache
):
    grant_consent(subject=customer, purpose="newsletter", source=Source.SIGNUP_FORM)
    _, secret = issue_api_key(name="Checkout", scopes=[Scope.CONSENTS_READ], actor=officer)

    known = api.get(CONSENTS, {"email": customer.email}, HTTP_AUTHORIZATION=f"Api-Key {secret}")
    unknown = api.get(
        CONSENTS, {"email": "nobody@example.com"}, HTTP_AUTHORIZATION=f"Api-Key {secret}"
    )

    assert known.status_code == 200
    assert [h["purpose"] for h in known.json()["history"]] == ["newsletter"]
    assert unknown.status_code == 404


def test_a_superuser_may_read_a_consent_record(api, django_user_model, customer):
    root = django_user_model.objects.create_superuser("root@jessops.example", PASSWORD)
    api.force_login(root)

    assert api.get(CONSENTS, {"email": customer.email}).status_code == 200


# --- OpenAPI schema ------------------------------------------------------------------------------


def test_both_endpoints_are_in_the_served_schema(as_customer):
    response = as_customer.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    paths = response.json()["paths"]
    assert set(paths[PREFERENCES]) == {"get", "put"}
    assert set(paths[CONSENTS]) == {"get"}
    put = paths[PREFERENCES]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PreferenceChoices"
    }
    assert {"200", "400"} <= set(put["responses"])
    parameters = paths[CONSENTS]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [("email", "query", True)]


def test_the_consent_endpoints_generate_a_valid_schema_without_warnings():
    GENERATOR_STATS.reset()

    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert not GENERATOR_STATS, "drf-spectacular emitted warnings or errors"
    validate_schema(schema)
    components = schema["components"]["schemas"]
    assert components["PreferenceChoices"]["properties"]["choices"] == {
        "type": "object",
        "additionalProperties": {"type": "boolean"},
        "description": (
            'Purpose code to decision, e.g. {"newsletter": true, "special_offers": false}.'
        ),
    }
    assert {"MyPreferences", "MyPreferencesUpdate", "ConsentRecord"} <= set(components)


def test_the_spectacular_command_validates_with_fail_on_warn(tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert "/api/v1/me/preferences/" in target.read_text()
