"""Staff views of purposes, policy versions and the consent ledger.

The ledger and the cookie-choice log are read-only here as everywhere: no add, change or delete.
Policy versions are read-only too: a new one is drafted and published as a policy draft
(communications' ``publish_policy_change``, which starts its notices); a published one is proof
of what people were shown and is never edited. A purpose's words are changed only through
``reword_purpose``, which keeps every version.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from consent.models import (
    ConsentEvent,
    CookieConsent,
    CurrentConsent,
    PolicyVersion,
    Purpose,
    PurposeText,
)
from consent.services import (
    ConsentError,
    create_purpose,
    reword_purpose,
)
from privacy_site.admin_tools import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    admin_path,
    adopt_saved,
    object_page,
)
from privacy_site.auth_user import logged_in_user
from privacy_site.downloads import csv_download, spreadsheet_safe
from privacy_site.need_to_know import Viewer, shows
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from staff_access.admin_audit import PersonalDataAdmin

# Each column of the export, with the field it shows: a column someone may not see
# (privacy_site.need_to_know) is left out of their export.
CSV_COLUMNS = [
    ("occurred_at", "occurred_at"),
    ("subject_email", "subject__email"),
    ("purpose", "purpose"),
    ("granted", "granted"),
    ("legal_basis", "legal_basis"),
    ("source", "source"),
    ("policy_version", "policy_version"),
    ("wording", "wording"),
    ("actor_email", "actor__email"),
    ("ip_address", "ip_address"),
]
CSV_HEADER = [header for header, _ in CSV_COLUMNS]
# A spreadsheet runs a cell starting with one of these as a formula: an email address such as
# "=HYPERLINK(...)@example.com" is valid, so such cells are prefixed with an apostrophe.


class PurposeAddForm(forms.ModelForm):
    class Meta:
        model = Purpose
        fields = (
            "code",
            "name",
            "wording",
            "is_optional",
            "mandatory_reason",
            "introduced_in",
            "display_order",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("is_optional") is False and not cleaned.get("mandatory_reason", "").strip():
            self.add_error(
                "mandatory_reason",
                "A mandatory purpose needs the reason shown instead of a choice.",
            )
        return cleaned


class RewordPurposeForm(forms.Form):
    name = forms.CharField(max_length=100)
    wording = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="The exact words shown when asking. Decisions already made keep the words "
        "they were made under.",
    )
    mandatory_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="For a mandatory purpose: shown instead of a choice.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        max_length=1000,
        help_text="Why the words change (recorded with your name and the policy version).",
    )


class PurposeTextInline(ReadOnlyInline, admin.TabularInline):
    """Every version of the purpose's words, newest first: read-only, append-only."""

    model = PurposeText
    ordering = ("-id",)
    fields = readonly_fields = (
        "created_at",
        "name",
        "wording",
        "mandatory_reason",
        "reason",
        "policy_version",
        "changed_by",
    )


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    """A purpose is added through ``create_purpose`` and its words changed only through
    ``reword_purpose`` (the "Change the words" page), which keeps every version with who
    changed it and why. In the change form only the display order is editable."""

    list_display = ("code", "name", "is_optional", "introduced_in", "display_order")
    list_select_related = ("introduced_in",)
    ordering = ("display_order", "id")
    inlines = (PurposeTextInline,)
    change_form_template = "admin/consent/purpose/change_form.html"
    # The code is how campaigns, links and the ledger name the purpose; the words are proof of
    # what people agreed to; whether it is optional decides whether they were asked at all.
    fixed = ("code", "name", "wording", "is_optional", "mandatory_reason", "introduced_in")

    def get_form(
        self, request: HttpRequest, obj: Purpose | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Purpose]]:
        if obj is None:
            kwargs["form"] = PurposeAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Purpose | None = None) -> tuple:
        return self.fixed if obj is not None else ()

    def get_inlines(self, request: HttpRequest, obj: Purpose | None):
        return self.inlines if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Purpose, form, change: bool) -> None:
        if change:
            # Only the display order is in the change form: it is not consent wording.
            obj.save(update_fields=["display_order"])
            return
        data = form.cleaned_data
        try:
            created = create_purpose(
                code=data["code"],
                name=data["name"],
                wording=data["wording"],
                is_optional=data["is_optional"],
                mandatory_reason=data.get("mandatory_reason", ""),
                introduced_in=data["introduced_in"],
                display_order=data.get("display_order") or 0,
                actor=logged_in_user(request),
            )
        except ConsentError as exc:
            # The form validated what the service checks; this is a race or a new rule.
            raise PermissionDenied(str(exc)) from exc
        adopt_saved(obj, created)

    def get_urls(self):
        reword = admin_path(self, "<int:object_id>/reword/", self.reword_view, "reword")
        return [reword, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        purpose = self.get_object(request, unquote(object_id))  # None: the admin says so
        if purpose is not None and self.has_change_permission(request):
            extra_context["reword_url"] = reverse(
                "admin:consent_purpose_reword", args=(purpose.pk,)
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def reword_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        purpose = get_object_or_404(Purpose, pk=object_id)
        if not self.has_change_permission(request, purpose):
            raise PermissionDenied
        initial = {
            "name": purpose.name,
            "wording": purpose.wording,
            "mandatory_reason": purpose.mandatory_reason,
        }
        form = RewordPurposeForm(request.POST or None, initial=initial)
        back = reverse("admin:consent_purpose_change", args=(purpose.pk,))
        if request.method == "POST" and form.is_valid():
            try:
                text = reword_purpose(
                    purpose=purpose, actor=logged_in_user(request), **form.cleaned_data
                )
            except ConsentError as exc:
                form.add_error(None, str(exc))
            else:
                if text is None:
                    self.message_user(request, "The words are unchanged.", messages.WARNING)
                else:
                    self.message_user(
                        request,
                        "New words saved; the earlier ones are kept in the history below.",
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(back)
        return object_page(
            self,
            request,
            "admin/consent/purpose/reword.html",
            original=purpose,
            title=f"Change the words of {purpose.name}",
            form=form,
            back=back,
        )


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    """Published versions, read-only. A new version is drafted, previewed and published as a
    policy draft (``publish_policy_change``), which starts the notices its change type calls
    for; adding a version here would publish it with none, so nobody adds one here."""

    list_display = ("number", "effective_date", "change_type", "is_current", "created_at")
    list_filter = ("change_type",)
    fields = ("number", "effective_date", "change_type", "is_current", "summary", "text")
    change_list_template = "admin/consent/policyversion/change_list.html"


def _cell(value: object) -> object:
    return spreadsheet_safe(value) if isinstance(value, str) else value


def ledger_csv_rows(events: Iterable[ConsentEvent], viewer: Viewer) -> Iterator[Sequence[object]]:
    """The export's rows, with only the columns ``viewer`` may see."""
    shown = [viewer.may_see_path(ConsentEvent, path) for _, path in CSV_COLUMNS]
    yield [header for header, keep in zip(CSV_HEADER, shown, strict=True) if keep]
    for event in events:
        row = [
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
        yield [value for value, keep in zip(row, shown, strict=True) if keep]


@admin.register(ConsentEvent)
class ConsentEventAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    person_field = "subject_id"

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
    @shows("subject__email")
    def subject_email(self, obj: ConsentEvent) -> str:
        return obj.subject.email

    @admin.display(description="policy version", ordering="policy_version__number")
    def policy_version_number(self, obj: ConsentEvent) -> int:
        return obj.policy_version.number

    def get_urls(self):
        export = admin_path(self, "export-csv/", self.export_csv_view, "export_csv")
        return [export, *super().get_urls()]

    def export_csv_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        """The changelist's rows, with its search and filters, as CSV streamed row by row."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter.")
        queryset = changelist.get_queryset(request)
        viewer = self.need_to_know_viewer(request)
        fields = [h for h, path in CSV_COLUMNS if viewer.may_see_path(ConsentEvent, path)]
        self.note_export(request, queryset, fields=fields, page="admin:consent_ledger_export_csv")
        events = queryset.iterator(chunk_size=self.csv_chunk_size)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_download(ledger_csv_rows(events, viewer), f"consent-ledger-{stamp}.csv")


@admin.register(CurrentConsent)
class CurrentConsentAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    person_field = "subject_id"

    list_display = ("subject_email", "purpose", "granted", "legal_basis", "updated_at", "event")
    list_filter = ("purpose", "granted", "legal_basis")
    search_fields = ("subject__email",)
    list_select_related = ("subject", "purpose", "event")

    @admin.display(description="subject", ordering="subject__email")
    @shows("subject__email")
    def subject_email(self, obj: CurrentConsent) -> str:
        return obj.subject.email


@admin.register(CookieConsent)
class CookieConsentAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    person_field = "user_id"

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
