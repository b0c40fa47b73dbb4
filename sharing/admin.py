"""Staff views of the register of third parties, its change log, the disclosure log and the
record of processing.

The register is changed only through ``sharing.services`` (``register_third_party``,
``change_third_party``), which record who changed what, when and why; every change form asks
for the reason. A party is never deleted (its disclosures point at it): it is ended with its
last active day. The change log and the disclosure log are read-only here as everywhere.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from consent.models import Purpose
from privacy_site.admin_tools import ReadOnlyAdmin, ReadOnlyInline, adopt_saved
from privacy_site.auth_user import logged_in_user
from privacy_site.downloads import csv_download
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from retention.selectors import schedule_lines
from sharing.models import (
    DataCategory,
    Disclosure,
    DisclosurePurpose,
    ThirdParty,
    ThirdPartyChange,
)
from sharing.record_of_processing import record_csv_rows, record_of_processing, retention_csv_rows
from sharing.services import (
    PartyDetails,
    RegisterError,
    change_third_party,
    check_party_details,
    register_third_party,
)
from sharing.services.register import RECORDED_FIELDS
from staff_access.admin_audit import PersonalDataAdmin


class ThirdPartyForm(forms.ModelForm):
    purposes = forms.MultipleChoiceField(
        choices=DisclosurePurpose.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the party may receive data for; a disclosure for anything else is refused.",
    )
    categories = forms.MultipleChoiceField(
        choices=DataCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Kinds of data",
        help_text="The kinds of personal data it may receive; none for an aggregate-only "
        "recipient. A disclosure of anything else is refused.",
    )
    consent_purposes = forms.ModelMultipleChoiceField(
        queryset=Purpose.objects.order_by("display_order", "id"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The consent purposes whose wording tells people about this recipient. A "
        "disclosure on the basis of consent needs one of them granted.",
    )
    notification_url = forms.URLField(
        assume_scheme="https",
        required=False,
        label="Notification endpoint",
        help_text="An https:// endpoint for notices of corrections and erasures, if the "
        "party has one.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        max_length=1000,
        help_text="Why the register changes (recorded with your name).",
    )

    class Meta:
        model = ThirdParty
        fields = RECORDED_FIELDS

    def details(self) -> PartyDetails:
        data = self.cleaned_data
        return PartyDetails(
            name=data["name"],
            role=data["role"],
            purposes=data["purposes"],
            purpose_description=data["purpose_description"],
            categories=data["categories"],
            retention_promise=data["retention_promise"],
            active_from=data["active_from"],
            active_until=data.get("active_until"),
            consent_purposes=list(data["consent_purposes"]),
            contract_reference=data.get("contract_reference", ""),
            privacy_contact=data.get("privacy_contact", ""),
            notification_email=data.get("notification_email", ""),
            notification_url=data.get("notification_url", ""),
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        party = self.instance if self.instance.pk else None
        try:
            check_party_details(details=self.details(), party=party)
        except RegisterError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return cleaned


class ThirdPartyChangeInline(ReadOnlyInline, admin.TabularInline):
    """Every change to the party, newest first: read-only, append-only."""

    model = ThirdPartyChange
    ordering = ("-id",)
    fields = readonly_fields = ("changed_at", "kind", "changed_by", "reason", "before", "after")

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # A party's history is part of the register: whoever sees the party sees it.
        return request.user.has_perm("sharing.view_thirdparty") or request.user.has_perm(
            "sharing.change_thirdparty"
        )


@admin.register(ThirdParty)
class ThirdPartyAdmin(admin.ModelAdmin):
    form = ThirdPartyForm
    list_display = ("name", "role", "purpose_list", "category_list", "active_from", "active_until")
    list_filter = ("role",)
    search_fields = ("name", "contract_reference")
    inlines = (ThirdPartyChangeInline,)
    change_list_template = "admin/sharing/thirdparty/change_list.html"

    def get_inlines(self, request: HttpRequest, obj: ThirdParty | None):
        return self.inlines if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # End the party with its last active day instead: its disclosures point at it.
        return False

    @admin.display(description="purposes")
    def purpose_list(self, obj: ThirdParty) -> str:
        return ", ".join(obj.purpose_labels())

    @admin.display(description="kinds of data")
    def category_list(self, obj: ThirdParty) -> str:
        return ", ".join(obj.category_labels()) or "none (aggregate only)"

    def save_model(self, request: HttpRequest, obj: ThirdParty, form, change: bool) -> None:
        details, reason = form.details(), form.cleaned_data["reason"]
        try:
            if change:
                change_third_party(
                    party=obj, details=details, actor=logged_in_user(request), reason=reason
                )
                return
            saved = register_third_party(
                details=details, actor=logged_in_user(request), reason=reason
            )
        except RegisterError as exc:
            # The form checked what the service checks; this is a race or a permission.
            raise PermissionDenied(str(exc)) from exc
        adopt_saved(obj, saved)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The service saved the consent purposes with its change record; only the (read-only)
        # inlines are left.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # --- Record of processing ---------------------------------------------------------------

    def get_urls(self):
        record = [
            path(
                "record-of-processing/",
                self.admin_site.admin_view(self.record_view),
                name="sharing_record_of_processing",
            ),
            path(
                "record-of-processing/csv/",
                self.admin_site.admin_view(self.record_csv_view),
                name="sharing_record_of_processing_csv",
            ),
            path(
                "record-of-processing/retention.csv",
                self.admin_site.admin_view(self.retention_csv_view),
                name="sharing_record_of_processing_retention_csv",
            ),
        ]
        return [*record, *super().get_urls()]

    def record_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Record of processing: who receives personal data",
            "opts": self.opts,
            "activities": record_of_processing(),
            "today": timezone.localdate(),
            "csv_url": reverse("admin:sharing_record_of_processing_csv"),
            "schedule": schedule_lines(),
            "retention_csv_url": reverse("admin:sharing_record_of_processing_retention_csv"),
        }
        return TemplateResponse(
            request, "admin/sharing/thirdparty/record_of_processing.html", context
        )

    def record_csv_view(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_download(
            record_csv_rows(record_of_processing()), f"record-of-processing-{stamp}.csv"
        )

    def retention_csv_view(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_download(retention_csv_rows(), f"retention-schedule-{stamp}.csv")


@admin.register(ThirdPartyChange)
class ThirdPartyChangeAdmin(ReadOnlyAdmin):
    """Who changed the register, when, why and what: read-only, as the rows are append-only."""

    list_display = ("changed_at", "party", "kind", "changed_by", "reason")
    list_filter = ("kind", "party")
    list_select_related = ("party", "changed_by")
    search_fields = ("party__name", "reason", "changed_by__email")
    fields = readonly_fields = (
        "party",
        "kind",
        "changed_at",
        "changed_by",
        "reason",
        "before",
        "after",
    )


@admin.register(Disclosure)
class DisclosureAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    """The disclosure log, read-only: each disclosure of a person's data to a third party."""

    person_field = "person_id"

    list_display = (
        "occurred_at",
        "person",
        "party",
        "category_list",
        "purpose",
        "legal_basis",
        "reference",
        "actor",
        "system",
    )
    list_filter = ("party", "purpose", "legal_basis")
    list_select_related = ("person", "party", "actor", "system")
    search_fields = ("person__email", "reference")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    fields = readonly_fields = (
        "occurred_at",
        "person",
        "party",
        "category_list",
        "purpose",
        "legal_basis",
        "reference",
        "actor",
        "system",
    )

    @admin.display(description="kinds of data")
    def category_list(self, obj: Disclosure) -> str:
        return ", ".join(obj.category_labels())


from sharing import (  # noqa: E402, F401  (own modules)
    admin_legal,
    admin_notifications,
    order_admin,
    photo_admin,
    report_admin,
    transfer_admin,
)
