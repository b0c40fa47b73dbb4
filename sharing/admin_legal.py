"""Staff views of legal requests: logging one (with its order document), the Privacy Officer's
decision (never by whoever logged it), fulfilment, and the downloads of the order and of the
export, each through ``sharing.services.legal_requests``, which records every step.

The order and the export are private files with no URL: they are handed out only by the
document and export views here, to Privacy Officers (``sharing.approve_legalrequest``), as
attachments the browser is told not to sniff, and each download is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminDateWidget
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_POST

from privacy_site.admin_tools import AddOnlyAdmin, ReadOnlyInline, admin_path, object_or_404
from privacy_site.auth_user import logged_in_user
from privacy_site.need_to_know import shows
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from sharing.legal_models import LegalRequest, LegalRequestStep
from sharing.models import DataCategory, Role, ThirdParty
from sharing.services import (
    LegalRequestError,
    LegalScope,
    approve_legal_request,
    fulfil_legal_request,
    log_legal_request,
    reject_legal_request,
)
from sharing.services.legal_requests import (
    MAX_PEOPLE,
    check_order_document,
    is_privacy_officer,
    open_export,
    open_order_document,
    scope_problems,
)
from staff_access.admin_audit import PersonalDataAdmin

Status = LegalRequest.Status
ADD_FIELDS = (
    "authority",
    "authority_reference",
    "description",
    "order_document",
    "people_emails",
    "categories",
    "period_start",
    "period_end",
)


class LegalRequestForm(forms.ModelForm):
    """Logging a request: what the service checks, checked here first so staff see each
    problem next to its field."""

    authority = forms.ModelChoiceField(
        queryset=ThirdParty.objects.filter(role=Role.PUBLIC_AUTHORITY).order_by("name"),
        help_text="A public authority in the register (add a named authority there first).",
    )
    order_document = forms.FileField(
        label="Order document (PDF)",
        help_text="The court order or request as received; kept privately, readable only by "
        "Privacy Officers.",
    )
    people_emails = forms.CharField(
        label="People",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=f"The email addresses of the accounts the order is about, one per line "
        f"(at most {MAX_PEOPLE}).",
    )
    categories = forms.MultipleChoiceField(
        choices=DataCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Kinds of data asked for",
    )

    class Meta:
        model = LegalRequest
        fields = (
            "authority",
            "authority_reference",
            "description",
            "categories",
            "period_start",
            "period_end",
        )
        widgets = {"period_start": AdminDateWidget, "period_end": AdminDateWidget}

    def clean_people_emails(self) -> list:
        addresses = list(
            dict.fromkeys(
                address.strip().lower()
                for address in self.cleaned_data["people_emails"].replace(",", "\n").splitlines()
                if address.strip()
            )
        )
        if len(addresses) > MAX_PEOPLE:
            raise ValidationError(f"At most {MAX_PEOPLE} people per request: log it in parts.")
        found = {
            user.email.lower(): user
            for user in get_user_model().objects.filter(email__in=addresses)
        }
        missing = [address for address in addresses if address not in found]
        if missing:
            raise ValidationError(f"No account has the address {', '.join(missing)}.")
        return [found[address] for address in addresses]

    def clean_order_document(self):
        document = self.cleaned_data["order_document"]
        try:
            check_order_document(document)
        except LegalRequestError as error:
            raise ValidationError(str(error)) from error
        return document

    def scope(self) -> LegalScope:
        data = self.cleaned_data
        return LegalScope(
            people=data["people_emails"],
            categories=data["categories"],
            period_start=data["period_start"],
            period_end=data["period_end"],
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        for problem in scope_problems(authority=cleaned.get("authority"), scope=self.scope()):
            self.add_error(None, problem)
        return cleaned


class LegalRequestStepInline(ReadOnlyInline, admin.TabularInline):
    model = LegalRequestStep
    fields = readonly_fields = ("at", "kind", "actor", "note")
    ordering = ("id",)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The steps are part of the request: whoever sees it sees them.
        return request.user.has_perm("sharing.view_legalrequest")


@admin.register(LegalRequest)
class LegalRequestAdmin(PersonalDataAdmin, NeedToKnowAdmin, AddOnlyAdmin):
    # The list shows no one; a request's page names the people it is about.
    list_shows_people = False
    add_form = LegalRequestForm
    list_display = (
        "reference_display",
        "authority",
        "authority_reference",
        "status",
        "logged_by",
        "logged_at",
        "decided_by",
    )
    list_filter = ("status", "authority")
    list_select_related = ("authority", "logged_by", "decided_by")
    search_fields = ("authority_reference", "description")
    inlines = (LegalRequestStepInline,)
    change_form_template = "admin/sharing/legalrequest/change_form.html"

    class Media:
        css = {"all": ("css/admin-extra.css",)}

    fields = readonly_fields = (
        "reference_display",
        "authority",
        "authority_reference",
        "description",
        "document_display",
        "people_list",
        "category_list",
        "period_display",
        "status",
        "logged_by",
        "logged_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "fulfilled_by",
        "fulfilled_at",
        "export_display",
    )

    def get_fields(self, request: HttpRequest, obj: Model | None = None):
        return self.fields if obj is not None else ADD_FIELDS

    def people_in(self, rows: Iterable[Model]) -> list[int | None]:
        people = LegalRequest.people.through.objects.filter(
            legalrequest_id__in=[row.pk for row in rows]
        )
        return list(people.values_list("user_id", flat=True))

    def people_in_queryset(self, queryset: QuerySet[Any]) -> list[int | None]:
        return self.people_in(queryset)

    def get_inlines(self, request: HttpRequest, obj: LegalRequest | None):
        return self.inlines if obj is not None else ()

    @admin.display(description="reference", ordering="id")
    def reference_display(self, obj: LegalRequest) -> str:
        return obj.reference

    @admin.display(description="order document")
    def document_display(self, obj: LegalRequest) -> str:
        return f"{obj.document_name} ({obj.document_size:,} bytes, SHA-256 {obj.document_sha256})"

    @admin.display(description="people")
    @shows("people__email")
    def people_list(self, obj: LegalRequest) -> str:
        return ", ".join(person.email for person in obj.people.order_by("pk"))

    @admin.display(description="kinds of data")
    def category_list(self, obj: LegalRequest) -> str:
        labels = dict(DataCategory.choices)
        return ", ".join(labels.get(value, value) for value in obj.categories)

    @admin.display(description="period")
    def period_display(self, obj: LegalRequest) -> str:
        return f"{obj.period_start:%d %b %Y} to {obj.period_end:%d %b %Y}"

    @admin.display(description="export")
    def export_display(self, obj: LegalRequest) -> str:
        return f"SHA-256 {obj.export_sha256}" if obj.export_sha256 else "-"

    def save_model(self, request: HttpRequest, obj: LegalRequest, form, change: bool) -> None:
        if change:
            raise PermissionDenied("A logged request changes only through its steps.")
        try:
            created = log_legal_request(
                authority=form.cleaned_data["authority"],
                authority_reference=form.cleaned_data["authority_reference"],
                description=form.cleaned_data["description"],
                document=form.cleaned_data["order_document"],
                scope=form.scope(),
                actor=logged_in_user(request),
            )
        except LegalRequestError as error:
            # The form checked what the service checks; this is a race or a permission.
            raise PermissionDenied(str(error)) from error
        for field in LegalRequest._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        obj._state.db = created._state.db

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """The service saved the people with the request and its first step."""

    # --- The Privacy Officer's steps ---------------------------------------------------------

    def get_urls(self):
        return [
            admin_path(self, "<path:object_id>/document/", self.document_view, "document"),
            admin_path(self, "<path:object_id>/export/", self.export_view, "export"),
            admin_path(
                self, "<path:object_id>/decide/<slug:decision>/", self.decide_view, "decide"
            ),
            admin_path(self, "<path:object_id>/fulfil/", self.fulfil_view, "fulfil"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, unquote(object_id))  # None: the admin says so
        if obj is not None and is_privacy_officer(logged_in_user(request)):
            extra_context["officer"] = {
                "document_url": reverse("admin:sharing_legalrequest_document", args=(obj.pk,)),
                "can_decide": obj.status == Status.AWAITING_APPROVAL
                and obj.logged_by_id != request.user.pk,
                "logged_it": obj.logged_by_id == request.user.pk,
                "approve_url": reverse(
                    "admin:sharing_legalrequest_decide", args=(obj.pk, "approve")
                ),
                "reject_url": reverse("admin:sharing_legalrequest_decide", args=(obj.pk, "reject")),
                "can_fulfil": obj.status == Status.APPROVED,
                "fulfil_url": reverse("admin:sharing_legalrequest_fulfil", args=(obj.pk,)),
                "export_url": reverse("admin:sharing_legalrequest_export", args=(obj.pk,))
                if obj.status == Status.FULFILLED
                else "",
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _officer_request(self, request: HttpRequest, object_id: str) -> LegalRequest:
        if not is_privacy_officer(logged_in_user(request)):
            raise PermissionDenied
        return object_or_404(self, request, object_id)

    @staticmethod
    def _attachment(file, *, filename: str, content_type: str) -> FileResponse:
        response = FileResponse(
            file, as_attachment=True, filename=filename, content_type=content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response

    def document_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        legal_request = self._officer_request(request, object_id)
        document = open_order_document(request=legal_request, actor=logged_in_user(request))
        return self._attachment(
            document,
            filename=f"{legal_request.reference}-order.pdf",
            content_type="application/pdf",
        )

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        legal_request = self._officer_request(request, object_id)
        try:
            export = open_export(request=legal_request, actor=logged_in_user(request))
        except LegalRequestError as error:
            raise Http404(str(error)) from error
        self.note_export(
            request,
            LegalRequest.objects.filter(pk=legal_request.pk),
            fields=list(legal_request.categories),
            page="admin:sharing_legalrequest_export",
        )
        return self._attachment(
            export,
            filename=f"{legal_request.reference}-export.json",
            content_type="application/json",
        )

    def _back(self, legal_request: LegalRequest) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:sharing_legalrequest_change", args=(legal_request.pk,))
        )

    def decide_view(self, request: HttpRequest, object_id: str, decision: str) -> HttpResponse:
        return require_POST(self._decide)(request, object_id, decision)

    def _decide(self, request: HttpRequest, object_id: str, decision: str) -> HttpResponse:
        if decision not in ("approve", "reject"):
            raise Http404
        legal_request = self._officer_request(request, object_id)
        decide = approve_legal_request if decision == "approve" else reject_legal_request
        try:
            decided = decide(
                request=legal_request,
                actor=logged_in_user(request),
                reason=request.POST.get("reason", ""),
            )
        except LegalRequestError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(
                request,
                f"{decided.reference} {decided.get_status_display().lower()}.",
                messages.SUCCESS,
            )
        return self._back(legal_request)

    def fulfil_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._fulfil)(request, object_id)

    def _fulfil(self, request: HttpRequest, object_id: str) -> HttpResponse:
        legal_request = self._officer_request(request, object_id)
        try:
            fulfilled = fulfil_legal_request(request=legal_request, actor=logged_in_user(request))
        except LegalRequestError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(
                request,
                f"{fulfilled.reference} fulfilled: the disclosures are logged; download the "
                "export to send to the authority.",
                messages.SUCCESS,
            )
        return self._back(legal_request)
