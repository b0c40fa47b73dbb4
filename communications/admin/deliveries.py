"""The outbox, read-only: every message and what became of it, with no address shown."""

from __future__ import annotations

from django.contrib import admin

from communications.addresses import mask_addresses_in
from communications.models import Delivery
from communications.services.campaigns import describe_recipient
from privacy_site.admin_tools import ReadOnlyAdmin
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from staff_access.admin_audit import PersonalDataAdmin


@admin.register(Delivery)
class DeliveryAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    """Every message and what became of it. The recipient is masked; the address, the account
    link (shown as an address) and the context (signed links) are never displayed."""

    person_field = "user_id"

    list_display = ("id", "kind", "campaign", "status", "recipient", "attempts", "created_at")
    list_filter = ("status", "kind", "campaign")
    list_select_related = ("campaign", "user")
    fields = (
        "kind",
        "campaign",
        "recipient",
        "status",
        "attempts",
        "error",
        "provider_message_id",
        "message_id",
        "created_at",
        "claimed_at",
        "next_attempt_at",
        "sent_at",
        "unsubscribed_at",
    )
    readonly_fields = fields
    ordering = ("-id",)
    show_full_result_count = False

    @admin.display(description="recipient")
    def recipient(self, obj: Delivery) -> str:
        return describe_recipient(obj)

    @admin.display(description="last error")
    def error(self, obj: Delivery) -> str:
        return mask_addresses_in(obj.last_error)
