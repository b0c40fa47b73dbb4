"""Who did what to campaigns and the suppression list, and when: read-only."""

from __future__ import annotations

from django.contrib import admin

from communications.event_models import MarketingEvent
from privacy_site.admin_tools import ReadOnlyAdmin


@admin.register(MarketingEvent)
class MarketingEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "kind", "campaign", "actor_display", "detail")
    list_filter = ("kind", "occurred_at")
    list_select_related = ("campaign", "actor")
    search_fields = ("campaign__name", "actor__email")
    date_hierarchy = "occurred_at"
    fields = readonly_fields = (
        "occurred_at",
        "kind",
        "campaign",
        "actor",
        "address_hash",
        "detail",
    )

    @admin.display(description="by", ordering="actor__email")
    def actor_display(self, obj: MarketingEvent) -> str:
        return obj.actor.email if obj.actor else "the system"
