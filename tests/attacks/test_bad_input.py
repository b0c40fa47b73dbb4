"""Bad bodies on every form and endpoint: oversized, too many fields, malformed JSON, invalid
UTF-8, NUL bytes (raw, and escaped inside JSON). Every address outside the admin that takes no
value in its path is sent each of them, by a logged-in customer (CSRF checks off, so the body
is read) and, under /api/, by a shop system's key as well. No answer is a server error, an API
answer is one of the refusals the API documents, and nothing is written."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import get_resolver
from rest_framework.test import APIClient

from api_keys.models import Scope
from api_keys.services import issue_api_key
from communications.models import Campaign, Delivery
from consent.models import ConsentEvent, CurrentConsent
from sharing.models import Disclosure
from sharing.order_models import Order
from tests.attacks.test_other_peoples_ids import _patterns
from tests.factories import StaffFactory, UserFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
BODIES = {
    "oversized": (FORM, b"note=" + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)),
    "too many fields": (
        FORM,
        b"&".join(b"f%d=1" % n for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)),
    ),
    "malformed JSON": (JSON, b'{"email": "ann@example.com", '),
    "invalid UTF-8 in a form": (FORM, b"first_name=\xff\xfe\xfd&email=\xff%40example.com"),
    "invalid UTF-8 in JSON": (JSON, b'{"first_name": "\xff\xfe"}'),
    "a NUL in a form": (FORM, b"first_name=A%00nn&email=ann%40example.com"),
    "a NUL escaped in JSON": (
        JSON,
        b'{"reference": "R\\u0000", "subject_line": "Hi\\u0000", "first_name": "A\\u0000",'
        b' "choices": {"newsletter\\u0000": true}, "name": "x\\u0000"}',
    ),
}
# What the API answers to a body it refuses (docs/API.md), or to a caller or method it refuses.
API_REFUSALS = {400, 401, 403, 404, 405, 413, 415, 429}
WRITTEN = [get_user_model(), ConsentEvent, CurrentConsent, Delivery, Campaign, Disclosure, Order]


def _addresses() -> list[str]:
    """Every address outside the admin with no value in its path."""
    found = []
    for prefix, route in _patterns(get_resolver()):
        path = "/" + prefix + route
        if "<" in path or "(?P" in path or path.startswith(("/admin/", "/bench/")):
            continue
        found.append(path.replace("^", "").replace("$", ""))
    return sorted(set(found))


ADDRESSES = _addresses()


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITTEN}


@pytest.fixture
def callers(db) -> dict[str, APIClient]:
    customer = UserFactory(email="ann@example.com", verified=True)
    officer = StaffFactory(email="keys@jessops.example", is_superuser=True)
    _key, secret = issue_api_key(name="Shop", scopes=list(Scope), actor=officer)
    system = APIClient(raise_request_exception=False, HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return {
        "customer": logged_in(customer, APIClient, raise_request_exception=False),
        "system": system,
    }


def test_the_walk_reaches_the_forms_and_the_api():
    assert {"/accounts/signup/", "/newsletter/", "/preferences/", "/api/v1/orders/"} <= set(
        ADDRESSES
    )


@pytest.mark.parametrize("body", BODIES)
def test_no_bad_body_is_a_server_error_or_writes_anything(callers, body):
    content_type, data = BODIES[body]
    before = _counts()
    failures = []
    for path in ADDRESSES:
        for who, client in callers.items():
            if who == "system" and not path.startswith("/api/"):
                continue
            for method in ("post", "put"):
                response = getattr(client, method)(path, data, content_type=content_type)
                status = response.status_code
                if status >= 500 or (path.startswith("/api/") and status not in API_REFUSALS):
                    failures.append(f"{method.upper()} {path} as {who}: {status}")
    assert failures == []
    assert _counts() == before
