"""Privacy requests made by email, phone or post, and self-service erasures: logged through
``log_privacy_request``, then acted on step by step (link, identity check, extension, refusal,
fulfilment), each step a service that records who acted."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.data_rights import PrivacyError
from accounts.forms import ProfileForm
from accounts.models import PrivacyRequest, User
from accounts.services import profile_values
from accounts.services.requests import (
    extend_privacy_request,
    fulfil_access_request,
    fulfil_erasure_request,
    fulfil_objection_request,
    fulfil_rectification_request,
    link_privacy_request,
    log_privacy_request,
    record_identity_check,
    refuse_privacy_request,
    request_problems,
)
from privacy_site.admin_tools import admin_path, adopt_saved, object_page
from privacy_site.auth_user import logged_in_user
from privacy_site.downloads import json_download
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from staff_access.admin_audit import PersonalDataAdmin
from staff_access.recording import note_access

STEPS = {
    "link": "Link to the account",
    "identity": "Record the identity check",
    "extend": "Extend by two months",
    "refuse": "Refuse",
    "fulfil": "Fulfil",
}


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(PersonalDataAdmin, NeedToKnowAdmin, admin.ModelAdmin):
    """Requests made by email, phone or post, and self-service erasures: overdue first,
    then by due date. Acting on one (identity check, extension, refusal, fulfilment) needs
    the "fulfil privacy requests" permission; logging one needs "add"."""

    person_field = "subject_id"

    list_display = (
        "reference_display",
        "request_type",
        "channel",
        "subject",
        "received_on",
        "due_display",
        "status",
        "identity_checked",
    )
    list_filter = ("status", "request_type", "channel")
    search_fields = ("subject__email", "requester_name", "requester_contact", "details")
    list_select_related = ("subject",)
    raw_id_fields = ("subject",)
    change_form_template = "admin/accounts/privacyrequest/change_form.html"

    class Media:
        css = {"all": ("css/admin-extra.css",)}

    fields = (
        "request_type",
        "channel",
        "received_on",
        "subject",
        "requester_name",
        "requester_contact",
        "details",
    )
    readonly_fields = (
        "due_on",
        "extended_on",
        "extension_reason",
        "identity_check",
        "identity_checked_at",
        "identity_checked_by",
        "status",
        "outcome",
        "closed_at",
        "closed_by",
        "logged_by",
        "created_at",
    )

    def get_fields(self, request, obj=None):
        return self.fields + (self.readonly_fields if obj else ())

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # The type, channel and date of receipt are facts once logged: the due date hangs
        # on them.
        return ("request_type", "channel", "received_on", *self.readonly_fields)

    def get_queryset(self, request):
        today = timezone.localdate()
        # Annotated before ordering: ModelAdmin.get_queryset would order by the rank first.
        return (
            self.model._default_manager.get_queryset()
            .annotate(
                overdue_rank=Case(
                    When(status=PrivacyRequest.Status.OPEN, due_on__lt=today, then=Value(0)),
                    When(status=PrivacyRequest.Status.OPEN, then=Value(1)),
                    default=Value(2),
                    output_field=IntegerField(),
                )
            )
            .order_by(*self.get_ordering(request))
        )

    def get_ordering(self, request):
        # Overdue first, then open by due date, then closed ones (annotated above).
        return ("overdue_rank", "due_on", "id")

    @admin.display(description="Reference", ordering="id")
    def reference_display(self, obj: PrivacyRequest) -> str:
        return obj.reference

    @admin.display(description="Due", ordering="due_on")
    def due_display(self, obj: PrivacyRequest) -> str:
        if obj.is_overdue():
            return format_html('<strong class="privacy-overdue">{} (overdue)</strong>', obj.due_on)
        suffix = " (extended)" if obj.extended_on else ""
        return f"{obj.due_on}{suffix}"

    @admin.display(description="Identity checked", boolean=True)
    def identity_checked(self, obj: PrivacyRequest) -> bool:
        return obj.identity_checked_at is not None

    def has_change_permission(self, request, obj=None) -> bool:
        # A logged request is a record: it changes only through the steps (identity check,
        # link, extension, refusal, fulfilment), each a service that records who acted.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the record of a request is kept

    def save_model(self, request, obj: PrivacyRequest, form, change: bool) -> None:
        if change:
            raise PermissionDenied("A logged request changes only through its steps.")
        created = log_privacy_request(
            request_type=obj.request_type,
            channel=obj.channel,
            received_on=obj.received_on,
            logged_by=logged_in_user(request),
            subject=obj.subject,
            requester_name=obj.requester_name,
            requester_contact=obj.requester_contact,
            details=obj.details,
        )
        adopt_saved(obj, created)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            # A subclass of the form class the admin built for this request.
            class LoggingForm(form):  # type: ignore[misc,valid-type]
                def clean(self):
                    cleaned = super().clean()
                    problems = request_problems(
                        received_on=cleaned.get("received_on"),
                        subject=cleaned.get("subject"),
                        requester_name=cleaned.get("requester_name", ""),
                        requester_contact=cleaned.get("requester_contact", ""),
                    )
                    for field_name, problem in problems.items():
                        self.add_error(field_name, problem)
                    return cleaned

            return LoggingForm
        return form

    def has_fulfil_permission(self, request) -> bool:
        return request.user.has_perm("accounts.fulfil_privacyrequest")

    def get_urls(self):
        act = admin_path(self, "<int:object_id>/act/<slug:step>/", self.act_view, "act")
        return [act, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        request_obj = self.get_object(request, object_id)
        if request_obj is not None and request_obj.is_open and self.has_fulfil_permission(request):
            steps = [
                step
                for step in STEPS
                if step != "link"
                or (request_obj.subject_id is None and request_obj.identity_checked_at is None)
            ]
            extra_context["privacy_steps"] = {
                step: reverse("admin:accounts_privacyrequest_act", args=(request_obj.pk, step))
                for step in steps
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def act_view(self, request: HttpRequest, object_id: int, step: str) -> HttpResponse:
        if step not in STEPS:
            raise PermissionDenied
        if not self.has_fulfil_permission(request):
            raise PermissionDenied
        privacy_request = get_object_or_404(PrivacyRequest, pk=object_id)
        back = reverse("admin:accounts_privacyrequest_change", args=(privacy_request.pk,))
        needs_profile = (
            step == "fulfil" and privacy_request.request_type == PrivacyRequest.Type.RECTIFICATION
        )
        if request.method != "POST" or (needs_profile and "_apply" not in request.POST):
            # The step's page shows the request and, once linked, whose account it is about.
            note_access(
                request,
                action="view",
                page=f"admin:accounts_privacyrequest_act_{step}",
                subject_ids=[privacy_request.subject_id],
                fields=["request_type", "requester_name", "requester_contact", "subject"],
            )
            return self._act_page(request, privacy_request, step, back)
        try:
            response = self._act(request, privacy_request, step)
            privacy_request.refresh_from_db(fields=["subject"])
            note_access(
                request,
                action="change",
                page=f"admin:accounts_privacyrequest_act_{step}",
                subject_ids=[privacy_request.subject_id],
                fields=["request_type", "state", step],
            )
        except (PrivacyError, ValidationError) as error:
            text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            if needs_profile and isinstance(error, ValidationError):
                return self._act_page(request, privacy_request, step, back, errors=text)
            self.message_user(request, text, messages.ERROR)
            return HttpResponseRedirect(back)
        if response is not None:
            return response
        return HttpResponseRedirect(back)

    def _act(self, request: HttpRequest, privacy_request: PrivacyRequest, step: str):
        staff = logged_in_user(request)
        text = request.POST.get("text", "")
        if step == "link":
            email = request.POST.get("email", "").strip()
            subject = User.objects.filter(email__iexact=email, erased_at__isnull=True).first()
            if subject is None:
                raise PrivacyError("No account has that email address.")
            link_privacy_request(privacy_request=privacy_request, subject=subject, staff=staff)
            self.message_user(
                request,
                f"Linked to {subject.email}. Now confirm the requester owns that account.",
                messages.SUCCESS,
            )
        elif step == "identity":
            record_identity_check(privacy_request=privacy_request, method=text, staff=staff)
            self.message_user(request, "Identity check recorded.", messages.SUCCESS)
        elif step == "extend":
            done = extend_privacy_request(privacy_request=privacy_request, reason=text, staff=staff)
            self.message_user(
                request,
                f"Extended: now due {done.due_on}. Tell the person why within the first month.",
                messages.SUCCESS,
            )
        elif step == "refuse":
            refuse_privacy_request(privacy_request=privacy_request, reason=text, staff=staff)
            self.message_user(request, "Refused; tell the person why.", messages.SUCCESS)
        else:
            return self._fulfil(request, privacy_request)
        return None

    def _fulfil(self, request: HttpRequest, privacy_request: PrivacyRequest):
        staff = logged_in_user(request)
        kind = privacy_request.request_type
        if kind == PrivacyRequest.Type.ACCESS:
            data = fulfil_access_request(privacy_request=privacy_request, staff=staff)
            self.note_export(
                request,
                PrivacyRequest.objects.filter(pk=privacy_request.pk),
                fields=list(data),
                page="admin:accounts_privacyrequest_fulfil",
            )
            return json_download(data, f"{privacy_request.reference}-personal-data.json")
        if kind == PrivacyRequest.Type.ERASURE:
            fulfil_erasure_request(privacy_request=privacy_request, staff=staff)
            self.message_user(
                request,
                "Erasure started: the account is closed, the confirmation email goes first, "
                "and the request completes when the data is gone.",
                messages.SUCCESS,
            )
        elif kind == PrivacyRequest.Type.OBJECTION:
            fulfil_objection_request(privacy_request=privacy_request, staff=staff)
            self.message_user(request, "All direct marketing stopped.", messages.SUCCESS)
        else:
            form = ProfileForm(request.POST)
            if not form.is_valid():
                raise ValidationError([str(e) for errs in form.errors.values() for e in errs])
            fields = {name: form.cleaned_data[name] for name in form.fields}
            fulfil_rectification_request(
                privacy_request=privacy_request, staff=staff, fields=fields
            )
            self.message_user(request, "Corrections saved.", messages.SUCCESS)
        return None

    def _act_page(self, request, privacy_request, step, back, *, errors: str = ""):
        profile_form = None
        if step == "fulfil" and privacy_request.request_type == PrivacyRequest.Type.RECTIFICATION:
            if privacy_request.subject_id is None:
                self.message_user(
                    request, "Link the request to the account it is about first.", messages.ERROR
                )
                return HttpResponseRedirect(back)
            profile_form = (
                ProfileForm(request.POST)
                if request.method == "POST"
                else ProfileForm(initial=profile_values(privacy_request.subject))
            )
        return object_page(
            self,
            request,
            "admin/accounts/privacyrequest/act.html",
            original=privacy_request,
            title=f"{STEPS[step]}: {privacy_request.reference}",
            step=step,
            step_label=STEPS[step],
            profile_form=profile_form,
            errors=errors,
            back=back,
        )
