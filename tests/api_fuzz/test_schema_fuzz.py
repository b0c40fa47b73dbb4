"""The API fuzzed from its own OpenAPI schema (``/api/schema/``) with schemathesis, every
check on, as each kind of caller: a logged-in customer (session and CSRF token), a member of
staff in the Marketing role (session, second factor set up), and a shop system (an API key
holding every scope). No answer may be a server error, or a status or shape the schema does
not document; invalid data must be refused.

Derandomized and bounded (``API_FUZZ_EXAMPLES`` examples per operation and caller, 25
unless set), so CI runs the same cases each time; raise it for a longer run."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from api_keys.models import Scope
from api_keys.services import issue_api_key
from privacy_site.roles import MARKETING
from tests.factories import StaffFactory, UserFactory

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))

# Read through the site itself at collection (the schema needs no database). NUL characters
# are left out of the valid data drawn: the site refuses every one with 400 before any view
# (PostgreSQL text can't hold one), tested in tests/foundation/test_nul_characters.py.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    WSGIHandler(),
    config=SchemathesisConfig.from_dict(
        {
            "generation": {"allow-x00": False},
            "operations": [
                {
                    # The check's own list, and 400: a carrier the register of third parties
                    # does not know is a rule a schema can't state, refused as documented.
                    # Every other check stays on for this operation.
                    "include-path": "/api/v1/orders/",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [
                                *("2xx", "3xx", "400", "401", "403", "404", "409", "429")
                            ]
                        }
                    },
                }
            ],
        }
    ),
)


def _session_headers(user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    token = _get_new_csrf_string()
    cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={token}"
    return {"Cookie": cookie, "X-CSRFToken": token}


@pytest.fixture
def customer(transactional_db) -> dict[str, str]:
    return _session_headers(UserFactory(email="fuzz@example.com", verified=True))


@pytest.fixture
def staff(transactional_db) -> dict[str, str]:
    # Marketing: the role whose work the API serves most (campaigns, their audiences).
    return _session_headers(StaffFactory(email="fuzz-staff@jessops.example", roles=[MARKETING]))


@pytest.fixture
def system(transactional_db) -> dict[str, str]:
    admin = StaffFactory(email="keys@jessops.example", is_superuser=True)
    _key, secret = issue_api_key(name="Fuzz", scopes=list(Scope), actor=admin)
    return {"Authorization": f"Api-Key {secret}"}


BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@BOUNDED
def test_every_operation_as_a_customer(case, customer):
    case.call_and_validate(headers=customer)


@schema.parametrize()
@BOUNDED
def test_every_operation_as_staff(case, staff):
    case.call_and_validate(headers=staff)


@schema.parametrize()
@BOUNDED
def test_every_operation_as_a_shop_system(case, system):
    case.call_and_validate(headers=system)
