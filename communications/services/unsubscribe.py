"""One rule for every way a person says "stop" to an email we sent: the unsubscribe link and
its RFC 8058 one-click POST, an email to the unsubscribe mailbox (the ``mailto:`` of
``List-Unsubscribe``), and the provider reporting an unsubscribe or a complaint.

Each way checks who is asking in its own way (a signed link, the sender of the email, the
webhook's credentials); then all of them call ``unsubscribe_from_delivery``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communications.kinds import rule_for
from communications.models import Delivery
from consent.models import ConsentEvent
from consent.provenance import NO_PROVENANCE, Provenance
from consent.services import withdraw_all_marketing, withdraw_consent
from consent.tokens import ALL_PURPOSES
from privacy_site.auth_user import AuthUser


@dataclass(frozen=True)
class Unsubscribed:
    """What an unsubscribe withdrew: one purpose, or all marketing (``purpose`` None)."""

    purpose: str | None
    events: list[ConsentEvent] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"unsubscribed from {self.purpose}"
            if self.purpose
            else "unsubscribed from all marketing"
        )


@transaction.atomic
def unsubscribe_from_delivery(
    *,
    subject: AuthUser,
    source: str,
    delivery_id: int | None = None,
    purpose: str | None = None,
    provenance: Provenance = NO_PROVENANCE,
) -> Unsubscribed:
    """Withdraw what ``subject`` asked to stop, and mark the email they asked from.

    What stops: ``purpose`` when the way they asked names it (an unsubscribe link signs its
    purpose, or ``ALL_PURPOSES`` for all marketing); else the purpose of the email
    ``delivery_id`` names, if it is marketing; else all marketing, since we can't tell which
    list the person left, and honour it as widely as it could be meant. The ledger rows carry
    ``source`` and ``provenance``; a purpose already withdrawn writes nothing.

    The email is marked as the one they unsubscribed through, unless it went to another
    account. No receipt is emailed: the person has just asked us to stop writing, and the
    page they see is the confirmation.
    """
    email = Delivery.objects.none()
    if delivery_id is not None:
        email = Delivery.objects.filter(Q(user=subject) | Q(user__isnull=True), pk=delivery_id)
    if purpose is None:
        kind = email.values_list("kind", flat=True).first()
        rule = rule_for(kind) if kind else None
        if rule is not None and rule.is_marketing and rule.purpose is not None:
            purpose = rule.purpose
        else:
            purpose = ALL_PURPOSES
    if purpose == ALL_PURPOSES:
        withdrawn = Unsubscribed(
            None, withdraw_all_marketing(subject=subject, source=source, provenance=provenance)
        )
    else:
        event = withdraw_consent(
            subject=subject, purpose=purpose, source=source, provenance=provenance
        )
        withdrawn = Unsubscribed(purpose, [event] if event else [])
    now = timezone.now()
    email.filter(unsubscribed_at__isnull=True).update(unsubscribed_at=now, updated_at=now)
    return withdrawn
