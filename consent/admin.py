"""Staff views of purposes, policy versions and the consent ledger.

The ledger and the cookie-choice log are read-only here as everywhere: no add, change or delete.
A new policy version is published through ``publish_policy_version``; a published one is proof
of what people were shown and is never edited.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone

from consent.models import ConsentEvent, CookieConsent, CurrentConsent, PolicyVersion, Purpose
from consent.services import ConsentError, publish_policy_version

CSV_HEADER = [
    "occurred_at",
    "subject_email",
    "purpose",
    "granted",
    "legal_basis",
    "source",
    "policy_version",
    "wording",
    "actor_email",
    "ip_address",
]
# A spreadsheet runs a cell starting with one of these as a formula: an email address such as
# "=HYPERLINK(...)@example.com" is valid, so such cells are prefixed with an apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Visible to staff holding the view permission; nobody adds, changes or deletes."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "is_optional", "introduced_in", "display_order")
    list_select_related = ("introduced_in",)
    ordering = ("display_order", "id")

    def get_readonly_fields(self, request: HttpRequest, obj: Purpose | None = None) -> tuple:
        # The code is how campaigns, links and the ledger name the purpose: fixed once made.
        return ("code",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PolicyVersionAddForm(forms.ModelForm):
    class Meta:
        model = PolicyVersion
        fields = ("text", "summary", "change_type", "effective_date")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["summary"].required = True
        self.fields["effective_date"].initial = timezone.localdate


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ("number", "effective_date", "change_type", "is_current", "created_at")
    list_filter = ("change_type",)
    fields = ("number", "effective_date", "change_type", "is_current", "summary", "text")

    def get_form(self, request: HttpRequest, obj: PolicyVersion | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = PolicyVersionAddForm
            kwargs["fields"] = PolicyVersionAddForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: PolicyVersion | None = None) -> tuple:
        return self.fields if obj is not None else PolicyVersionAddForm.Meta.fields

    def get_readonly_fields(self, request: HttpRequest, obj: PolicyVersion | None = None):
        return self.fields if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # A published version is what people agreed to: showing it is fine, changing it is not.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PolicyVersion, form, change: bool) -> None:
        if change:
            raise PermissionDenied("A published policy version can't be changed.")
        try:
            published = publish_policy_version(
                text=form.cleaned_data["text"],
                summary=form.cleaned_data["summary"],
                change_type=form.cleaned_data["change_type"],
                effective_date=form.cleaned_data["effective_date"],
            )
        except ConsentError as exc:
            # The form validated what the service checks; this is a race or a new rule.
            raise PermissionDenied(str(exc)) from exc
        # The admin goes on with ``obj`` (message, log entry, redirect): make it the saved row.
        for field in PolicyVersion._meta.concrete_fields:
            setattr(obj, field.attname, getattr(published, field.attname))
        obj._state.adding = False
        obj._state.db = published._state.db


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def ledger_csv_rows(events: Iterable[ConsentEvent]) -> Iterator[list[object]]:
    yield CSV_HEADER
    for event in events:
        yield [
            event.occurred_at.isoformat(),
            _cell(event.subject.email),
            event.purpose.code,
            "true" if event.granted else "false",
            event.legal_basis,
            event.source,
            event.policy_version.number,
            _cell(event.wording),
            _cell(event.actor.email) if event.actor else "",
            event.ip_address or "",
        ]


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = (
        "occurred_at",
        "subject_email",
        "purpose",
        "granted",
        "source",
        "legal_basis",
        "policy_version_number",
        "id",
    )
    list_filter = ("purpose", "granted", "source")
    search_fields = ("subject__email",)
    list_select_related = ("subject", "purpose", "policy_version", "actor")
    ordering = ("-id",)
    show_full_result_count = False
    csv_chunk_size = 2000

    @admin.display(description="subject", ordering="subject__email")
    def subject_email(self, obj: ConsentEvent) -> str:
        return obj.subject.email

    @admin.display(description="policy version", ordering="policy_version__number")
    def policy_version_number(self, obj: ConsentEvent) -> int:
        return obj.policy_version.number

    def get_urls(self):
        export = path(
            "export-csv/",
            self.admin_site.admin_view(self.export_csv_view),
            name="consent_consentevent_export_csv",
        )
        return [export, *super().get_urls()]

    def export_csv_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """The changelist's rows, with its search and filters, as CSV streamed row by row."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter.")
        events = changelist.get_queryset(request).iterator(chunk_size=self.csv_chunk_size)
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in ledger_csv_rows(events)),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="consent-ledger-{stamp}.csv"'
        return response


@admin.register(CurrentConsent)
class CurrentConsentAdmin(ReadOnlyAdmin):
    list_display = ("subject_email", "purpose", "granted", "legal_basis", "updated_at", "event")
    list_filter = ("purpose", "granted", "legal_basis")
    search_fields = ("subject__email",)
    list_select_related = ("subject", "purpose", "event")

    @admin.display(description="subject", ordering="subject__email")
    def subject_email(self, obj: CurrentConsent) -> str:
        return obj.subject.email


@admin.register(CookieConsent)
class CookieConsentAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "anonymous_id",
        "user",
        "analytics",
        "marketing",
        "gpc_honoured",
        "policy_version",
    )
    list_filter = ("analytics", "marketing", "gpc_honoured")
    search_fields = ("user__email",)
    list_select_related = ("user", "policy_version")
    show_full_result_count = False
