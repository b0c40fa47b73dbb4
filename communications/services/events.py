"""The record of campaign and suppression actions (``MarketingEvent``): one function per event,
each called by the service that takes the action, inside its transaction, with its actor
(None: the system, e.g. a campaign's schedule)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from communications.event_models import MarketingEvent
from communications.models import Campaign, Suppression, SuppressionLift
from privacy_site.auth_user import AuthUser

Kind = MarketingEvent.Kind


def _record(
    kind: str,
    *,
    actor: AuthUser | None,
    campaign: Campaign | None = None,
    address_hash: str = "",
    detail: dict[str, Any] | None = None,
) -> MarketingEvent:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Marketing events are written inside the transaction of the action.")
    return MarketingEvent.objects.create(
        kind=kind,
        actor=actor,
        campaign=campaign,
        address_hash=address_hash,
        detail=detail or {},
        occurred_at=timezone.now(),
    )


def campaign_created(*, campaign: Campaign, actor: AuthUser | None) -> MarketingEvent:
    return _record(Kind.CAMPAIGN_CREATED, actor=actor, campaign=campaign)


def campaign_edited(
    *, campaign: Campaign, actor: AuthUser | None, changed: list[str]
) -> MarketingEvent:
    return _record(
        Kind.CAMPAIGN_EDITED, actor=actor, campaign=campaign, detail={"changed": changed}
    )


def campaign_scheduled(
    *, campaign: Campaign, actor: AuthUser | None, send_at: datetime
) -> MarketingEvent:
    return _record(
        Kind.CAMPAIGN_SCHEDULED,
        actor=actor,
        campaign=campaign,
        detail={"send_at": send_at.isoformat()},
    )


def campaign_sending(*, campaign: Campaign, actor: AuthUser | None) -> MarketingEvent:
    """Sending started: by ``actor`` (send now), or by the schedule (``actor`` None)."""
    return _record(Kind.CAMPAIGN_SENDING, actor=actor, campaign=campaign)


def campaign_paused(*, campaign: Campaign, actor: AuthUser | None) -> MarketingEvent:
    return _record(Kind.CAMPAIGN_PAUSED, actor=actor, campaign=campaign)


def campaign_resumed(*, campaign: Campaign, actor: AuthUser | None) -> MarketingEvent:
    return _record(Kind.CAMPAIGN_RESUMED, actor=actor, campaign=campaign)


def campaign_cancelled(*, campaign: Campaign, actor: AuthUser | None) -> MarketingEvent:
    return _record(Kind.CAMPAIGN_CANCELLED, actor=actor, campaign=campaign)


def address_suppressed(*, suppression: Suppression, actor: AuthUser) -> MarketingEvent:
    return _record(
        Kind.ADDRESS_SUPPRESSED,
        actor=actor,
        address_hash=suppression.address_hash,
        detail={"reason": suppression.reason, "detail": suppression.detail},
    )


def suppression_lifted(*, lift: SuppressionLift, actor: AuthUser) -> MarketingEvent:
    return _record(
        Kind.SUPPRESSION_LIFTED,
        actor=actor,
        address_hash=lift.address_hash,
        detail={"reason": lift.reason, "was_suppressed_for": lift.suppressed_reason},
    )
