"""Account email addresses, shown read-only.

allauth's own admin lets staff add an address to someone's account, make it primary and mark it
verified, unaudited: a way to take an account over by its password reset. Addresses change only
through their owner's verified email change; here they are shown, never written.
"""

from __future__ import annotations

import allauth.account.admin  # noqa: F401  (allauth's admin registered first, replaced below)
from allauth.account.models import EmailAddress
from django.contrib import admin

from privacy_site.admin_tools import ReadOnlyAdmin
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from staff_access.admin_audit import PersonalDataAdmin

if admin.site.is_registered(EmailAddress):
    admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class EmailAddressAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    person_field = "user_id"

    list_display = ("email", "user", "primary", "verified")
    list_filter = ("primary", "verified")
    search_fields = ("email", "user__email")
    list_select_related = ("user",)
    fields = readonly_fields = ("email", "user", "primary", "verified")
