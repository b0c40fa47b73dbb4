"""Staff view of Jessops Photo memberships. Memberships are written only by
``sharing.services.photo_service``; the notice that tells CEWE a member left (or was erased)
is a recipient notification, sent by a worker or given by staff from Recipient
notifications like every other."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from privacy_site.admin_tools import ReadOnlyAdmin
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from sharing.photo_models import PhotoServiceMembership
from sharing.services.photo_service import membership_reference
from staff_access.admin_audit import PersonalDataAdmin


@admin.register(PhotoServiceMembership)
class PhotoServiceMembershipAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    person_field = "person_id"
    list_display = ("joined_at", "person", "left_at", "left_because", "cewe_told")
    list_filter = ("left_because", "leave_notification__state")
    list_select_related = ("person", "leave_notification")
    search_fields = ("person__email",)
    fields = readonly_fields = (
        "person",
        "party",
        "reference",
        "joined_at",
        "disclosure",
        "left_at",
        "left_because",
        "notice",
    )

    @admin.display(description="reference CEWE was given")
    def reference(self, obj: PhotoServiceMembership) -> str:
        return membership_reference(obj)

    @admin.display(description="CEWE told")
    def cewe_told(self, obj: PhotoServiceMembership) -> str:
        notice = obj.leave_notification
        if notice is None:
            return "-"
        return f"{notice.get_state_display()} ({notice.get_event_display().lower()})"

    @admin.display(description="notice to CEWE")
    def notice(self, obj: PhotoServiceMembership) -> str:
        notice = obj.leave_notification
        if notice is None:
            return "-"
        url = reverse("admin:sharing_recipientnotification_change", args=(notice.pk,))
        return format_html('<a href="{}">{}</a>: {}', url, notice, notice.get_state_display())
