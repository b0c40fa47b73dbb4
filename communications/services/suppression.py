"""The suppression list: addresses we must never email again, kept only as hashes."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from communications.addresses import address_hash
from communications.models import Suppression, SuppressionLift
from communications.services import events
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff


def suppress_address_hash(hashed: str, *, reason: str, detail: str = "") -> Suppression | None:
    """Suppress by hash; the first reason recorded stays (later ones change nothing), except
    erasure, which replaces any other: an erased person's address must be known as such
    (an order from it never links or rebuilds an account, whatever suppressed it first), and
    the earlier reason is kept in the detail."""
    if not hashed:
        return None
    with transaction.atomic():
        suppression, created = Suppression.objects.select_for_update().get_or_create(
            address_hash=hashed, defaults={"reason": reason, "detail": detail[:300]}
        )
        erasure = Suppression.Reason.ERASURE
        if not created and reason == erasure and suppression.reason != erasure:
            earlier = f"Earlier: {suppression.get_reason_display()}"
            suppression.detail = f"{earlier}. {suppression.detail}"[:300].rstrip(". ")
            suppression.reason = erasure
            suppression.save(update_fields=["reason", "detail"])
    return suppression


def suppress_address(
    address: str, *, reason: str, detail: str = "", actor: AuthUser | None = None
) -> Suppression | None:
    """Suppress ``address`` (any case); the address itself is not stored. Staff adding it by
    hand are the ``actor``, recorded with it."""
    with transaction.atomic():
        suppression = suppress_address_hash(address_hash(address), reason=reason, detail=detail)
        if suppression is not None and actor is not None:
            events.address_suppressed(suppression=suppression, actor=actor)
    return suppression


class SuppressionError(ValueError):
    """A lift that can't be made: the message says why, for staff."""


@transaction.atomic
def lift_suppression(*, address: str, reason: str, actor: AuthUser) -> SuppressionLift | None:
    """Take ``address`` off the list (staff, after the person asks us to email them again)
    and record who did it and why, in the same transaction: the one way a suppression is
    removed. None if the address was not on the list. Raises ``SuppressionError`` without a
    reason or a member of staff acting."""
    reason = reason.strip()
    if not reason:
        raise SuppressionError("Say why the suppression is lifted: who asked, and how.")
    if not is_active_staff(actor):
        raise SuppressionError("Only a member of staff may lift a suppression.")
    suppression = (
        Suppression.objects.select_for_update().filter(address_hash=address_hash(address)).first()
    )
    if suppression is None:
        return None
    lift = SuppressionLift.objects.create(
        address_hash=suppression.address_hash,
        suppressed_reason=suppression.reason,
        suppressed_detail=suppression.detail,
        suppressed_at=suppression.created_at,
        reason=reason,
        lifted_by=actor,
        lifted_at=timezone.now(),
    )
    suppression.delete()
    events.suppression_lifted(lift=lift, actor=actor)
    return lift
