"""Placing and releasing legal holds: what the Privacy Officer must give (a reason, an end in
the future, a person not erased), a hold released only once; bad input writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.services.privacy import forget_unverified_account
from retention.models import LegalHold
from retention.services import place_hold, release_hold
from tests.retention.cases import person

pytestmark = pytest.mark.django_db


def holds() -> list[dict]:
    return list(LegalHold.objects.order_by("pk").values())


def test_a_hold_is_placed_with_its_reason_and_end(officer):
    someone = person()
    ends = timezone.now() + timedelta(days=90)

    placed = place_hold(
        person=someone, reason="  Court order 123  ", ends_at=ends, placed_by=officer
    )

    row = LegalHold.objects.get()
    assert (row.pk, row.person, row.reason, row.ends_at) == (
        placed.pk,
        someone,
        "Court order 123",
        ends,
    )
    assert row.placed_by == officer and row.in_force and row.released_at is None
    assert list(LegalHold.objects.in_force()) == [row]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"reason": ""}, "reason"),
        ({"reason": " \n\t "}, "reason"),
        ({"ends_at": -timedelta(minutes=1)}, "ends_at"),
        ({"ends_at": timedelta(0)}, "ends_at"),
    ],
)
def test_a_hold_without_a_reason_or_ending_in_the_past_is_refused(officer, changes, field):
    someone = person()
    fields = {"reason": "Court order 123", "ends_at": timezone.now() + timedelta(days=1)}
    if "ends_at" in changes:
        fields["ends_at"] = timezone.now() + changes["ends_at"]
    else:
        fields.update(changes)

    with pytest.raises(ValidationError) as error:
        place_hold(person=someone, placed_by=officer, **fields)

    assert field in error.value.message_dict
    assert holds() == []


def test_an_erased_account_cannot_be_held(officer):
    someone = person()
    forget_unverified_account(user_id=someone.pk)  # pseudonymised as erasure does
    someone.refresh_from_db()
    assert someone.erased_at is not None

    with pytest.raises(ValidationError) as error:
        place_hold(
            person=someone,
            reason="Court order 123",
            ends_at=timezone.now() + timedelta(days=1),
            placed_by=officer,
        )

    assert "erased" in error.value.message_dict["person"][0]
    assert holds() == []


def test_a_hold_is_released_with_a_reason_once(hold, officer):
    placed = hold(person())

    with pytest.raises(ValidationError) as error:
        release_hold(hold_id=placed.pk, released_by=officer, reason="   ")
    assert "release_reason" in error.value.message_dict
    unchanged = holds()
    assert unchanged[0]["released_at"] is None

    released = release_hold(hold_id=placed.pk, released_by=officer, reason="Dispute settled")
    assert not released.in_force and released.released_by == officer
    assert list(LegalHold.objects.in_force()) == []
    after_release = holds()

    with pytest.raises(ValidationError, match="released already"):
        release_hold(hold_id=placed.pk, released_by=officer, reason="Again")
    assert holds() == after_release


def test_a_hold_past_its_end_is_no_longer_in_force(lapsed_hold):
    lapsed = lapsed_hold(person())
    assert not lapsed.in_force
    assert not LegalHold.objects.in_force().exists()
