"""Provider webhook events as received, read-only, with no address shown."""

from __future__ import annotations

from django.contrib import admin

from communications.addresses import mask_addresses_in
from communications.admin.suppressions import short_hash
from communications.models import ProviderEvent
from privacy_site.admin_tools import ReadOnlyAdmin
from privacy_site.need_to_know_admin import NeedToKnowAdmin


@admin.register(ProviderEvent)
class ProviderEventAdmin(NeedToKnowAdmin, ReadOnlyAdmin):
    """Webhook events as received. The recipient's address (kept only until processed) is not
    shown; its hash prefix is enough to match events together."""

    list_display = (
        "received_at",
        "esp_name",
        "event_type",
        "recipient_hash_prefix",
        "delivery",
        "processed_at",
        "outcome",
    )
    list_filter = ("esp_name", "event_type")
    list_select_related = ("delivery",)
    fields = (
        "esp_name",
        "event_id",
        "event_type",
        "reject_reason",
        "is_soft_bounce",
        "recipient_hash_prefix",
        "message_id",
        "delivery",
        "delivery_ref",
        "redacted_description",
        "occurred_at",
        "received_at",
        "processed_at",
        "outcome",
    )
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="recipient hash")
    def recipient_hash_prefix(self, obj: ProviderEvent) -> str:
        return short_hash(obj.recipient_hash)

    @admin.display(description="description")
    def redacted_description(self, obj: ProviderEvent) -> str:
        return mask_addresses_in(obj.description)
