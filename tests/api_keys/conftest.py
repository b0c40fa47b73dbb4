"""Keys issued through the service, and clients calling the API from a known address."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import APIKeyFactory, StaffFactory

ADDRESS = "203.0.113.7"


@pytest.fixture
def key_admin(db):
    """Staff allowed to issue, see and revoke keys."""
    return StaffFactory(
        email="keys@jessops.example",
        permissions=[
            "api_keys.add_systemapikey",
            "api_keys.change_systemapikey",
            "api_keys.view_systemapikey",
        ],
    )


@pytest.fixture
def issue(key_admin):
    """``issue("Checkout")`` → (key row, secret), scope consents:read unless told."""

    def make(name: str = "Checkout", **fields):
        key = APIKeyFactory(name=name, actor=key_admin, **fields)
        return key, key.secret

    return make


@pytest.fixture
def system(clean_cache) -> APIClient:
    """A machine client, with the failure counts of the cache emptied around the test."""
    return APIClient(REMOTE_ADDR=ADDRESS)
