"""Reads of the communications app that are more than a one-model filter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Subquery
from django.db.models.functions import TruncMinute

from communications.addresses import address_hash
from communications.models import (
    UNCERTAIN_PREFIX,
    Campaign,
    Delivery,
    ProviderEvent,
    Suppression,
)
from privacy_site.auth_user import AuthUser
from privacy_site.masking import mask_address

Status = Delivery.Status
# Where ``campaigns_with_progress`` puts each count on a campaign: progress_queued, ...
_ANNOTATION = "progress_"


def deliveries_for(*, campaign: Campaign, status: str | None = None) -> QuerySet[Delivery]:
    """A campaign's delivery rows, optionally of one status, with their recipients."""
    rows = Delivery.objects.filter(campaign=campaign).select_related("user")
    return rows.filter(status=status) if status else rows


def _progress_counts(rows: str = "") -> dict[str, Count]:
    """The counts of ``campaign_progress`` as aggregates over delivery rows, reached by the
    path ``rows`` ("" counting deliveries themselves, "deliveries__" from campaigns)."""

    def count(**condition: object) -> Count:
        return Count(
            f"{rows}id", filter=Q(**{rows + key: value for key, value in condition.items()})
        )

    counts = {status: count(status=status) for status in Status.values}
    counts["unsubscribed"] = count(unsubscribed_at__isnull=False)
    counts["uncertain"] = count(last_error__startswith=UNCERTAIN_PREFIX)
    return counts


def campaigns_with_progress(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """``campaigns``, each carrying the counts of ``campaign_progress``, for a list: one query
    for all the rows, not one per campaign."""
    return campaigns.annotate(
        **{_ANNOTATION + name: count for name, count in _progress_counts("deliveries__").items()}
    )


def campaign_progress(*, campaign: Campaign) -> dict[str, int]:
    """Rows by status, plus how many recipients unsubscribed through this campaign and how
    many rows are uncertain (their worker stopped mid-send), and the total. Read from the
    counts ``campaigns_with_progress`` put on the campaign, or else counted now, in one pass
    over its rows."""
    names = [*Status.values, "unsubscribed", "uncertain"]
    if hasattr(campaign, _ANNOTATION + Status.QUEUED):
        counts = {name: getattr(campaign, _ANNOTATION + name) for name in names}
    else:
        counts = Delivery.objects.filter(campaign=campaign).aggregate(**_progress_counts())
    progress = {name: counts[name] for name in names}
    progress["total"] = sum(progress[status] for status in Status.values)
    return progress


def describe_recipient(delivery: Delivery) -> str:
    """How staff see a recipient: masked, since marketing staff must not see addresses."""
    address = delivery.to_email or (delivery.user.email if delivery.user is not None else "")
    return mask_address(address) if address else "—"


# --- What a person's copy of their data shows (communications.privacy) ------------------------


def emails_sent_to(*, user: AuthUser) -> QuerySet[Delivery]:
    """Every delivery row of ``user``, newest first, with its campaign."""
    return (
        Delivery.objects.filter(user=user).select_related("campaign").order_by("-created_at", "-id")
    )


def provider_reports_for(*, user: AuthUser) -> QuerySet[ProviderEvent]:
    """What the email provider reported about ``user``'s emails, newest first."""
    return ProviderEvent.objects.filter(delivery__user=user).order_by("-received_at", "-id")


def suppression_of(*, email: str) -> Suppression | None:
    """The do-not-email entry of an address, if it has one."""
    return Suppression.objects.filter(address_hash=address_hash(email)).first()


# --- Sends per minute, for the campaign page's chart ------------------------------------------

# The chart covers at most this many minutes, up to the campaign's last send.
WINDOW_MINUTES = 120
MINUTE = timedelta(minutes=1)


def sends_per_minute(*, campaign: Campaign) -> QuerySet[Any, Any]:
    """``{"minute", "sent"}`` for each minute in which some of the campaign's messages were
    handed to the provider, oldest first, over the ``WINDOW_MINUTES`` before its last send
    (plus, at most, part of the minute before them): one aggregate query, bucketed by the
    database, reading a bounded number of minutes however long the campaign has run."""
    handed_over = Delivery.objects.filter(campaign=campaign, sent_at__isnull=False)
    last_send = Subquery(handed_over.order_by("-sent_at").values("sent_at")[:1])
    return (
        handed_over.filter(sent_at__gt=last_send - WINDOW_MINUTES * MINUTE)
        .annotate(minute=TruncMinute("sent_at"))
        .values("minute")
        .annotate(sent=Count("id"))
        .order_by("minute")
    )
