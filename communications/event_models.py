"""The record of campaign and suppression actions: who did what, when."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from communications.models import Campaign


class MarketingEvent(models.Model):
    """Who did what to a campaign or to the suppression list, and when: a campaign created,
    edited, scheduled, started sending (by staff, or by its schedule: no actor), paused,
    resumed or cancelled; an address suppressed by staff, a suppression lifted. Written only
    by ``communications.services.events``, one function per event, in the transaction of the
    action; append-only (on PostgreSQL a trigger refuses ``UPDATE`` and ``DELETE``)."""

    class Kind(models.TextChoices):
        CAMPAIGN_CREATED = "campaign_created", "Campaign created"
        CAMPAIGN_EDITED = "campaign_edited", "Campaign edited"
        CAMPAIGN_SCHEDULED = "campaign_scheduled", "Campaign scheduled"
        CAMPAIGN_SENDING = "campaign_sending", "Campaign started sending"
        CAMPAIGN_PAUSED = "campaign_paused", "Campaign paused"
        CAMPAIGN_RESUMED = "campaign_resumed", "Campaign resumed"
        CAMPAIGN_CANCELLED = "campaign_cancelled", "Campaign cancelled"
        ADDRESS_SUPPRESSED = "address_suppressed", "Address suppressed by staff"
        SUPPRESSION_LIFTED = "suppression_lifted", "Suppression lifted"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: the system (a campaign's schedule, a policy-change notice).",
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    address_hash = models.CharField(max_length=64, blank=True)
    # What the event changed: the fields edited, the time scheduled, the reason given.
    detail = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.occurred_at:%d %b %Y %H:%M})"
