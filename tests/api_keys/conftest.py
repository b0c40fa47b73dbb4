"""Keys issued through the service, and clients calling the API from a known address."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from api_keys.models import Scope
from api_keys.services import issue_api_key

ADDRESS = "203.0.113.7"


@pytest.fixture
def key_admin(make_user):
    """Staff allowed to issue, see and revoke keys."""
    user = make_user("keys@jessops.example", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="api_keys",
            codename__in=["add_systemapikey", "change_systemapikey", "view_systemapikey"],
        )
    )
    return user


@pytest.fixture
def issue(key_admin):
    """``issue("Checkout")`` → (key row, secret), scope consents:read unless told."""

    def make(name: str = "Checkout", scopes=(Scope.CONSENTS_READ,), **kwargs):
        return issue_api_key(name=name, scopes=scopes, actor=key_admin, **kwargs)

    return make


@pytest.fixture
def customer(make_user):
    return make_user("ann@example.com")


@pytest.fixture
def system(clean_cache) -> APIClient:
    """A machine client, with the failure counts of the cache emptied around the test."""
    return APIClient(REMOTE_ADDR=ADDRESS)
