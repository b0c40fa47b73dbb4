"""People, staff in their roles, and readers of the staff access record."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from staff_access.models import StaffAccess
from tests.factories import StaffFactory, UserFactory, permissions_named

SUPPORT = "Customer Support"


@pytest.fixture
def customers(db):
    return [UserFactory(email=f"customer{n:03}@example.com") for n in range(5)]


@pytest.fixture
def support(db):
    """A Customer Support agent: may view and change accounts, read the consent ledger."""
    group, _ = Group.objects.get_or_create(name=SUPPORT)
    group.permissions.set(
        permissions_named(
            [
                "accounts.view_user",
                "accounts.change_user",
                "accounts.view_profile",
                "consent.view_consentevent",
            ]
        )
    )
    agent = StaffFactory(email="sam@jessops.example", verified=True)
    agent.groups.add(group)
    return agent


def the_row() -> StaffAccess:
    (row,) = StaffAccess.objects.all()
    return row
