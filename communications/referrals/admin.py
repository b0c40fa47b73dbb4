"""The staff's report on wishlists sent to friends: counts per day, week or month, of the
wishlists asked for and what became of them, the clicks on their links and the sign-ups
after a click. Nothing about the friends: nothing about them exists. The list of referrals is
the report itself; the view permission (``communications.view_referral``) decides who sees it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse

from communications.referrals.models import Referral
from communications.referrals.selectors import PERIODS, referral_report
from privacy_site.admin_tools import ReadOnlyAdmin

PERIOD_LABELS = {"day": "Per day", "week": "Per week", "month": "Per month"}


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    # A referral's own page shows what became of it, not who sent it.
    fields = ("status", "created_at", "attempts", "finished_at", "last_error")
    readonly_fields = fields

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        period = request.GET.get("period", "week")
        if period not in PERIODS:
            period = "week"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Wishlists sent to friends",
            "period": period,
            "periods": PERIOD_LABELS,
            "caption": f"Wishlists, clicks and sign-ups, {PERIOD_LABELS[period].lower()}",
            "rows": referral_report(period=period),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/communications/referral/report.html", context)
