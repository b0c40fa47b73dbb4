"""Placing and releasing legal holds: the Privacy Officer's, each a row that is its own audit
record (who placed it, why, until when; who released it, why, when)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from retention.models import LegalHold


@transaction.atomic
def place_hold(
    *, person: AuthUser, reason: str, ends_at: datetime, placed_by: AuthUser
) -> LegalHold:
    reason = reason.strip()
    now = timezone.now()
    if not reason:
        raise ValidationError({"reason": "Say why the data is held: the request or dispute."})
    if ends_at <= now:
        raise ValidationError({"ends_at": "A hold must end in the future."})
    if getattr(person, "erased_at", None) is not None:
        raise ValidationError({"person": "This account has been erased: nothing is left to hold."})
    return LegalHold.objects.create(
        person=person, reason=reason, ends_at=ends_at, placed_by=placed_by, placed_at=now
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
