"""Fixtures of the sharing tests: the register as the policy seeds it, staff, and a way to
log a disclosure through the service."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission
from django.test import Client

from sharing.models import DataCategory, DisclosurePurpose, LegalBasis, ThirdParty
from sharing.services import record_disclosure
from tests.conftest import DB_FIXTURES
from tests.factories import set_up_second_factor

SEED = importlib.import_module("sharing.migrations.0003_parties_named_in_the_policy")
BANK = "Our bank (card authorisation)"
PARCELFORCE = "Parcelforce"
CEWE = "CEWE (Jessops Photo)"
SPONSORS = "Survey and contest sponsors"
ADVERTISERS = "Suppliers and advertisers"
COURTS = "Courts and law enforcement"


@pytest.fixture(autouse=True)
def _seeded_register(request: pytest.FixtureRequest) -> None:
    """Put back the parties the data migration seeds when a transactional test before this
    one flushed them (the root conftest does the same for policy version 1)."""
    if not (
        DB_FIXTURES & set(request.fixturenames) or request.node.get_closest_marker("django_db")
    ):
        return
    request.getfixturevalue("_migration_data")  # the database, with the consent purposes
    if not ThirdParty.objects.exists():
        SEED.load(django_apps, None)


def party(name: str) -> ThirdParty:
    return ThirdParty.objects.get(name=name)


@pytest.fixture
def officer(django_user_model):
    """A member of staff who may disclose (a Privacy Officer) and holds every sharing right."""
    user = django_user_model.objects.create_user(
        "officer@jessops.example", "a long test password", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="sharing"))
    set_up_second_factor(user)
    return user


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def disclose(officer):
    """Log a disclosure to the bank for an order unless told otherwise."""

    def make(person, **overrides):
        arguments = {
            "person": person,
            "party": party(BANK),
            "categories": [DataCategory.NAME, DataCategory.POSTAL_ADDRESS],
            "purpose": DisclosurePurpose.CARD_AUTHORISATION,
            "legal_basis": LegalBasis.CONTRACT,
            "reference": "order 1001",
            "actor": officer,
            **overrides,
        }
        return record_disclosure(**arguments)

    return make


@pytest.fixture
def superuser_client(django_user_model) -> Client:
    root = django_user_model.objects.create_superuser("root@jessops.example", "a long password")
    set_up_second_factor(root)
    return staff_client(root)
