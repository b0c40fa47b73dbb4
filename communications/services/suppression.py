"""The suppression list: addresses we must never email again, kept only as hashes."""

from __future__ import annotations

from django.db import transaction

from communications.addresses import address_hash
from communications.models import Suppression


def suppress_address_hash(hashed: str, *, reason: str, detail: str = "") -> Suppression | None:
    """Suppress by hash; the first reason recorded stays (later ones change nothing)."""
    if not hashed:
        return None
    with transaction.atomic():
        suppression, _ = Suppression.objects.get_or_create(
            address_hash=hashed, defaults={"reason": reason, "detail": detail[:300]}
        )
    return suppression


def suppress_address(address: str, *, reason: str, detail: str = "") -> Suppression | None:
    """Suppress ``address`` (any case); the address itself is not stored."""
    return suppress_address_hash(address_hash(address), reason=reason, detail=detail)


def lift_suppression(address: str) -> bool:
    """Take an address off the list (staff, after the person asks); True if it was on it."""
    deleted, _ = Suppression.objects.filter(address_hash=address_hash(address)).delete()
    return bool(deleted)
