"""The consent REST API: staff and the shop's systems reading a consent record, and the schema.
A person's own preferences (/api/v1/me/preferences/) are the communications app's:
tests/communications/test_preferences_api.py."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from consent.services import ConsentSource, grant_consent, record_decisions, withdraw_consent
from privacy_site.roles import PRIVACY_OFFICER
from tests.factories import APIKeyFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

PREFERENCES = "/api/v1/me/preferences/"
CONSENTS = "/api/v1/consents/"


@pytest.fixture
def api() -> APIClient:
    return APIClient(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="shop-client/1.0")


@pytest.fixture
def as_customer(api, customer) -> APIClient:
    api.force_login(customer)
    return api


@pytest.fixture
def officer(make_user):
    """A Privacy Officer: sees the browser details kept as proof too."""
    return make_user("officer@jessops.example", is_staff=True, roles=[PRIVACY_OFFICER])


def by_code(purposes: list[dict]) -> dict[str, dict]:
    return {p["code"]: p for p in purposes}


# --- GET /api/v1/consents/?email= (staff) --------------------------------------------------------


def test_staff_with_permission_read_a_persons_state_and_full_history(
    api, officer, customer, make_user
):
    clerk = make_user("clerk@jessops.example", is_staff=True)
    grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    withdraw_consent(
        subject=customer, purpose="newsletter", source=ConsentSource.STAFF, actor=clerk
    )
    record_decisions(
        subject=customer,
        choices={"special_offers": True},
        source=ConsentSource.ORDER_FORM,
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
    staff_api = logged_in(officer, APIClient)

    response = staff_api.get(CONSENTS, {"email": customer.email})

    assert response.json()["history"][0]["ip_address"] == "198.51.100.0"


def test_reading_a_consent_record_costs_a_fixed_number_of_queries(
    api, officer, customer, django_assert_max_num_queries
):
    for _ in range(5):
        grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.API)
        withdraw_consent(
            subject=customer, purpose="newsletter", source=ConsentSource.API, actor=officer
        )
    api.force_login(officer)

    # 8, plus the reader's roles (need to know), the staff access row, the staff member's role
    # (their groups) and the check that their session was not ended elsewhere: fixed, however
    # long the history
    with django_assert_max_num_queries(12):
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
    grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    api.force_login(make_user("someone@jessops.example", is_staff=is_staff, permissions=codenames))

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
    grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    secret = APIKeyFactory(actor=officer).secret

    known = api.get(CONSENTS, {"email": customer.email}, HTTP_AUTHORIZATION=f"Api-Key {secret}")
    unknown = api.get(
        CONSENTS, {"email": "nobody@example.com"}, HTTP_AUTHORIZATION=f"Api-Key {secret}"
    )

    assert known.status_code == 200
    assert [h["purpose"] for h in known.json()["history"]] == ["newsletter"]
    assert unknown.status_code == 404


def test_a_superuser_may_read_a_consent_record(api, superuser, customer):
    api.force_login(superuser)

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
