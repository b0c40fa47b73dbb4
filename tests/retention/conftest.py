"""Fixtures of the retention tests: a Privacy Officer, and holds placed through the service
(or, for a hold that has lapsed, inserted as it would be found after its end date)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from retention.models import LegalHold
from retention.services import place_hold, release_hold
from tests.factories import StaffFactory


@pytest.fixture
def officer(db):
    return StaffFactory(email="po@jessops.example", first_name="Olive")


@pytest.fixture
def hold(officer):
    def place(person, *, days: int = 30, reason: str = "Dispute DSR-12 over a refund"):
        return place_hold(
            person=person,
            reason=reason,
            ends_at=timezone.now() + timedelta(days=days),
            placed_by=officer,
        )

    return place


@pytest.fixture
def released_hold(hold, officer):
    def place(person):
        placed = hold(person)
        return release_hold(hold_id=placed.pk, released_by=officer, reason="Dispute settled")

    return place


@pytest.fixture
def lapsed_hold(officer):
    def place(person):
        now = timezone.now()
        return LegalHold.objects.create(
            person=person,
            reason="Claim that was not brought in time",
            placed_at=now - timedelta(days=60),
            ends_at=now - timedelta(minutes=5),
            placed_by=officer,
        )

    return place
