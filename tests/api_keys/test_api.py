"""The shop's systems call the API with a per-system key: scoped, revocable, refused alike
whatever is wrong with it, and failures limited per client address."""

from __future__ import annotations

import base64
import logging
import time
from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from api_keys.models import APIKeyEvent, SystemAPIKey
from api_keys.services import revoke_api_key
from consent.models import ConsentEvent
from consent.services import ConsentSource, grant_consent
from tests.factories import TEST_PASSWORD, StaffFactory

pytestmark = pytest.mark.django_db

CONSENTS = "/api/v1/consents/"
PREFERENCES = "/api/v1/me/preferences/"
CAMPAIGNS = "/api/v1/campaigns/"
INVALID = {"detail": "Invalid API key."}


def with_key(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Api-Key {secret}"}


def basic(email: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


# --- A good key ----------------------------------------------------------------------------------


def test_a_key_with_the_scope_reads_a_consent_record(system, issue, customer):
    # given
    grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    api_key, secret = issue("Checkout")
    # when
    response = system.get(CONSENTS, {"email": "ANN@example.com"}, **with_key(secret))
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["subject"]["email"] == "ann@example.com"
    assert [h["purpose"] for h in body["history"]] == ["newsletter"]
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert not APIKeyEvent.objects.filter(kind=APIKeyEvent.Kind.REFUSED).exists()


def test_a_key_is_matched_whatever_the_case_of_its_keyword(system, issue, customer):
    _, secret = issue()

    response = system.get(
        CONSENTS, {"email": customer.email}, HTTP_AUTHORIZATION=f"api-key {secret}"
    )

    assert response.status_code == 200


def test_last_used_is_written_at_most_once_a_minute(system, issue, customer):
    api_key, secret = issue()
    system.get(CONSENTS, {"email": customer.email}, **with_key(secret))
    api_key.refresh_from_db()
    first_use = api_key.last_used_at

    system.get(CONSENTS, {"email": customer.email}, **with_key(secret))

    api_key.refresh_from_db()
    assert api_key.last_used_at == first_use


def test_a_key_with_the_scope_still_learns_nothing_of_an_unknown_address(system, issue):
    _, secret = issue()

    response = system.get(CONSENTS, {"email": "nobody@example.com"}, **with_key(secret))

    assert response.status_code == 404


# --- Scopes: a key opens only the endpoints its scopes name --------------------------------------


def test_a_key_opens_no_endpoint_for_people(system, issue, customer):
    _, secret = issue()

    reads = system.get(PREFERENCES, **with_key(secret))
    writes = system.put(
        PREFERENCES, {"choices": {"newsletter": True}}, format="json", **with_key(secret)
    )
    campaigns = system.get(CAMPAIGNS, **with_key(secret))
    creates = system.post(
        CAMPAIGNS,
        {"kind": "newsletter", "subject": "Hi", "body": "Hello"},
        format="json",
        **with_key(secret),
    )

    assert [r.status_code for r in (reads, writes, campaigns, creates)] == [403] * 4
    assert not ConsentEvent.objects.exists()


def test_a_key_without_the_scope_is_refused(system, key_admin, customer):
    # The service refuses to issue a key without a known scope; a key holding only a scope
    # this endpoint does not accept (one added later, for orders) is made the library's way.
    _, secret = SystemAPIKey.objects.create_key(
        name="Orders", scopes=["orders:write"], created_by=key_admin
    )

    response = system.get(CONSENTS, {"email": customer.email}, **with_key(secret))

    assert response.status_code == 403
    assert "consents:read" in response.json()["detail"]
    assert "history" not in response.json()


# --- Wrong keys: one answer, recorded ------------------------------------------------------------


def test_unknown_revoked_expired_and_malformed_keys_get_the_same_answer(
    system, issue, key_admin, customer, caplog
):
    # given
    revoked, revoked_secret = issue("Old checkout")
    revoke_api_key(key=revoked, actor=key_admin)
    expired, expired_secret = issue("Warehouse", expires_at=timezone.now() + timedelta(days=1))
    # Time can't be moved forward here: the expiry is moved back instead.
    SystemAPIKey.objects.filter(pk=expired.pk).update(
        expiry_date=timezone.now() - timedelta(seconds=1)
    )
    _, good_secret = issue("Checkout")
    unknown_secret = "Zz9Zz9Zz." + "x" * 32
    wrong_secret = good_secret[:-1] + ("a" if good_secret[-1] != "a" else "b")
    attempts = {
        "revoked": revoked_secret,
        "expired": expired_secret,
        "unknown": unknown_secret,
        "unknown-secret-for-a-known-prefix": wrong_secret,
        "malformed": "not-a-key",
        "nul": "abc\x00def",
        "empty": "",
    }
    # when
    with caplog.at_level(logging.WARNING, logger="api_keys"):
        responses = {
            name: system.get(CONSENTS, {"email": customer.email}, **with_key(secret))
            for name, secret in attempts.items()
        }
    # then every one is the same 403, and nothing says which case applied
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(attempts, 403)
    assert all(r.json() == INVALID for r in responses.values())
    refused = APIKeyEvent.objects.filter(kind=APIKeyEvent.Kind.REFUSED).order_by("id")
    assert [(e.reason, e.client_address) for e in refused] == [
        ("revoked", "203.0.113.7"),
        ("expired", "203.0.113.7"),
        ("unknown", "203.0.113.7"),
        ("unknown", "203.0.113.7"),
        ("malformed", "203.0.113.7"),
        ("malformed", "203.0.113.7"),
        ("malformed", "203.0.113.7"),
    ]
    assert [e.key for e in refused[:2]] == [revoked, expired]
    assert refused[2].presented_prefix == "Zz9Zz9Zz"
    # the log names the refusal, never a secret
    assert caplog.text.count("API key refused") == len(attempts)
    for secret in (revoked_secret, expired_secret, wrong_secret, unknown_secret):
        assert secret.partition(".")[2] not in caplog.text


def test_a_revoked_key_stops_working_at_once(system, issue, key_admin, customer):
    api_key, secret = issue()
    assert system.get(CONSENTS, {"email": customer.email}, **with_key(secret)).status_code == 200

    revoke_api_key(key=api_key, actor=key_admin)

    response = system.get(CONSENTS, {"email": customer.email}, **with_key(secret))
    assert (response.status_code, response.json()) == (403, INVALID)


# --- The failure limit per client address --------------------------------------------------------


def test_after_ten_failures_an_address_gets_429_even_with_a_good_key(system, issue, customer):
    # given
    _, secret = issue()
    for _ in range(10):
        assert system.get(CONSENTS, **with_key("Zz9Zz9Zz." + "x" * 32)).status_code == 403
    # when
    blocked = system.get(CONSENTS, {"email": customer.email}, **with_key(secret))
    # then
    assert blocked.status_code == 429
    assert blocked.json()["detail"].startswith(
        "Too many failed API key attempts from your address. Try again in"
    )
    assert 0 < int(blocked["Retry-After"]) <= 3600
    limited = APIKeyEvent.objects.filter(kind=APIKeyEvent.Kind.LIMITED)
    assert [(e.client_address, e.reason) for e in limited] == [("203.0.113.7", "unknown")]
    # blocked attempts are not recorded one by one (no amplification)
    assert APIKeyEvent.objects.filter(kind=APIKeyEvent.Kind.REFUSED).count() == 10
    # another address, and the session, are not held back
    other = APIClient(REMOTE_ADDR="198.51.100.9")
    assert other.get(CONSENTS, {"email": customer.email}, **with_key(secret)).status_code == 200
    officer = StaffFactory(email="officer@jessops.example", permissions=["view_consentevent"])
    system.force_login(officer)
    assert system.get(CONSENTS, {"email": customer.email}).status_code == 200


def test_an_ipv6_client_is_counted_by_its_network(issue, customer, clean_cache):
    for host in range(1, 11):
        client = APIClient(REMOTE_ADDR=f"2001:db8:1:2::{host:x}")
        assert client.get(CONSENTS, **with_key("nope")).status_code == 403

    _, secret = issue()
    neighbour = APIClient(REMOTE_ADDR="2001:db8:1:2:ffff::1")
    response = neighbour.get(CONSENTS, {"email": customer.email}, **with_key(secret))

    assert response.status_code == 429


def test_the_block_lifts_when_the_failures_leave_the_window(system, issue, customer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key_failures": "2/s"},
    }
    _, secret = issue()
    for _ in range(2):
        system.get(CONSENTS, **with_key("nope"))
    assert system.get(CONSENTS, {"email": customer.email}, **with_key(secret)).status_code == 429

    time.sleep(1.1)

    assert system.get(CONSENTS, {"email": customer.email}, **with_key(secret)).status_code == 200


def test_requests_without_a_key_never_count_as_failures(system, customer):
    for _ in range(15):
        assert system.get(CONSENTS, {"email": customer.email}).status_code == 403

    assert not APIKeyEvent.objects.exists()


# --- No HTTP Basic -------------------------------------------------------------------------------


def test_basic_credentials_authenticate_nothing(system, make_user, customer):
    # given the right passwords of a customer and of staff allowed to read consent records
    officer = make_user("officer@jessops.example", is_staff=True, permissions=["view_consentevent"])
    # when
    mine = system.get(PREFERENCES, **basic(customer.email, TEST_PASSWORD))
    record = system.get(CONSENTS, {"email": customer.email}, **basic(officer.email, TEST_PASSWORD))
    # then
    for response in (mine, record):
        assert response.status_code == 403
        assert response.json() == {"detail": "Authentication credentials were not provided."}
        assert "WWW-Authenticate" not in response


# --- The audit is append-only --------------------------------------------------------------------


def test_the_key_audit_refuses_update_and_delete(issue):
    issue()
    event = APIKeyEvent.objects.get()

    with pytest.raises(DatabaseError), transaction.atomic():
        APIKeyEvent.objects.filter(pk=event.pk).update(kind=APIKeyEvent.Kind.REVOKED)
    with pytest.raises(DatabaseError), transaction.atomic():
        APIKeyEvent.objects.filter(pk=event.pk).delete()

    assert APIKeyEvent.objects.get().kind == APIKeyEvent.Kind.ISSUED


# --- OpenAPI -------------------------------------------------------------------------------------


def test_the_schema_describes_the_api_key_scheme_where_a_key_is_accepted(system, make_user):
    system.force_login(make_user("reader@example.com"))

    schema = system.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "Api-Key <key>" in scheme["description"]
    assert "basicAuth" not in schema["components"]["securitySchemes"]
    consents = schema["paths"][CONSENTS]["get"]
    assert {"ApiKeyAuth": []} in consents["security"]
    assert "consents:read" in consents["description"]
    assert "429" in consents["responses"]
    for path, method in [(PREFERENCES, "get"), (PREFERENCES, "put"), (CAMPAIGNS, "get")]:
        assert {"ApiKeyAuth": []} not in schema["paths"][path][method]["security"], path
