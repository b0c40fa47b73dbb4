"""Placing and releasing legal holds: the Privacy Officer's, each a row that is its own audit
record (who placed it, why, until when; who released it, why, when)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from retention.models import LegalHold

NO_REASON = "Say why the data is held: the request or dispute."
ENDED = "A hold must end in the future."
ERASED = "This account has been erased: nothing is left to hold."


def hold_problems(
    *, person: AuthUser | None, reason: str, ends_at: datetime | None
) -> dict[str, str]:
    """What is wrong with a hold, by field (empty: nothing); the admin form shows the same."""
    problems: dict[str, str] = {}
    if not reason.strip():
        problems["reason"] = NO_REASON
    if ends_at is not None and ends_at <= timezone.now():
        problems["ends_at"] = ENDED
    if person is not None and getattr(person, "erased_at", None) is not None:
        problems["person"] = ERASED
    return problems


@transaction.atomic
def place_hold(
    *, person: AuthUser, reason: str, ends_at: datetime, placed_by: AuthUser
) -> LegalHold:
    problems = hold_problems(person=person, reason=reason, ends_at=ends_at)
    if problems:
        raise ValidationError(problems)
    return LegalHold.objects.create(
        person=person,
        reason=reason.strip(),
        ends_at=ends_at,
        placed_by=placed_by,
        placed_at=timezone.now(),
    )


@transaction.atomic
def release_hold(*, hold_id: int, released_by: AuthUser, reason: str) -> LegalHold:
    hold = LegalHold.objects.select_for_update().get(pk=hold_id)
    reason = reason.strip()
    if hold.released_at is not None:
        raise ValidationError("This hold was released already.")
    if not reason:
        raise ValidationError({"release_reason": "Say why the hold ends early."})
    hold.released_at = timezone.now()
    hold.released_by = released_by
    hold.release_reason = reason
    hold.save(update_fields=["released_at", "released_by", "release_reason"])
    return hold
