"""The numbered statements contest entries were made under, read-only."""

from __future__ import annotations

from django.contrib import admin

from privacy_site.admin_tools import ReadOnlyAdmin
from surveys.models import SponsorStatement


@admin.register(SponsorStatement)
class SponsorStatementAdmin(ReadOnlyAdmin):
    list_display = ("version", "policy_version", "created_at")
    fields = readonly_fields = ("version", "text", "policy_version", "created_at")
