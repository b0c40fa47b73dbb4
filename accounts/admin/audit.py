"""The audit trail of changes to people's data, read-only."""

from __future__ import annotations

from django.contrib import admin

from accounts.models import AuditEvent
from privacy_site.admin_tools import ReadOnlyAdmin
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from staff_access.admin_audit import PersonalDataAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    """The audit trail, read-only: nobody adds, edits or deletes a row here."""

    person_field = "subject_id"

    list_display = ("occurred_at", "subject", "field", "old_value", "new_value", "actor", "source")
    list_filter = ("source", "field", "is_secret")
    search_fields = ("subject__email", "actor__email", "field")
    list_select_related = ("subject", "actor")
    date_hierarchy = "occurred_at"
    readonly_fields = (
        "subject",
        "actor",
        "change_id",
        "field",
        "is_secret",
        "old_value",
        "new_value",
        "values_redacted",
        "source",
        "occurred_at",
    )
