from __future__ import annotations

import allauth.account.admin  # noqa: F401  (allauth's admin registered first, replaced below)
from allauth.account.models import EmailAddress
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from consent.admin import ReadOnlyAdmin

from .forms import ProfileForm
from .models import AddressVerification, AuditEvent, PrivacyRequest, Profile, User
from .models import AuditSource as Source
from .services import profile_values, update_profile
from .services.audit import record_secret_change
from .services.privacy import (
    PrivacyError,
    create_account_by_staff,
    deactivate_account,
    reactivate_account,
)
from .services.requests import (
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
from .views import json_download


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")


class UserEditForm(UserChangeForm):
    """What staff may edit directly: the name (saved through ``update_profile``, audited) and
    staff roles. The address is the login and changes only through its owner's verified
    email change; whether the account is active changes only through the actions, which
    call the deactivation services."""

    class Meta:
        model = User
        fields = (
            "password",
            "first_name",
            "last_name",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        )


class ProfileInline(admin.StackedInline):
    """Read-only here: changes go through ``update_profile`` so they reach the audit trail."""

    model = Profile
    can_delete = False
    extra = 0
    max_num = 0
    fields = readonly_fields = (
        "address_line_1",
        "address_line_2",
        "town",
        "postcode",
        "phone",
        "contact_channel",
        "updated_at",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class AddressVerificationInline(admin.TabularInline):
    model = AddressVerification
    can_delete = False
    extra = 0
    max_num = 0
    ordering = ("-id",)
    fields = readonly_fields = ("created_at", "source", "verified", "postcode", "detail")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = (ProfileInline, AddressVerificationInline)
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = (
        "email",
        "is_active",
        "last_login",
        "date_joined",
        "deactivated_at",
        "erasure_requested_at",
        "erased_at",
    )
    actions = ("reactivate_accounts", "deactivate_accounts")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (
            "Dates",
            {
                "fields": (
                    "last_login",
                    "date_joined",
                    "deactivated_at",
                    "erasure_requested_at",
                    "erased_at",
                )
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "first_name", "last_name", "password1", "password2"),
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> tuple:
        return self.readonly_fields if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # An erased account, or one being erased, is a pseudonymous record: shown, never
        # edited (no name, no roles, no password).
        if obj is not None and (obj.erased_at or obj.erasure_requested_at):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # Deleting would lose the subject of the ledger and the audit trail: erasure (a
        # privacy request) is the way to remove a person's data.
        return False

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        if not change:
            data = form.cleaned_data
            created = create_account_by_staff(
                email=data["email"],
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                password=data.get("password1") if data.get("set_usable_password", True) else None,
                actor=request.user,
            )
            for field in User._meta.concrete_fields:
                setattr(obj, field.attname, getattr(created, field.attname))
            obj._state.adding = False
            obj._state.db = created._state.db
            return
        roles = [name for name in ("is_staff", "is_superuser") if name in form.changed_data]
        if roles:
            obj.save(update_fields=roles)
        names = {n: form.cleaned_data[n] for n in ("first_name", "last_name")}
        try:
            update_profile(user=obj, actor=request.user, source=Source.STAFF, **names)
        except ValidationError as error:
            # The form's own checks passed; the service refusing is a new rule or a race.
            raise PermissionDenied("; ".join(error.messages)) from error

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = ""):
        """Django's set-password page, with the audit row written in the same transaction as
        the new password (or the password disabled)."""
        with transaction.atomic():
            before = self.get_object(request, unquote(id))
            response = super().user_change_password(request, id, form_url)
            if before is not None and request.method == "POST" and response.status_code == 302:
                user = User.objects.get(pk=before.pk)
                if user.password != before.password:
                    record_secret_change(
                        subject=user, actor=request.user, field="password", source=Source.STAFF
                    )
        return response

    @admin.action(description="Reactivate selected accounts (support)", permissions=["change"])
    def reactivate_accounts(self, request: HttpRequest, queryset) -> None:
        done = refused = 0
        for user in queryset:
            try:
                done += reactivate_account(user=user, actor=request.user, source=Source.STAFF)
            except PrivacyError:
                refused += 1
        self.message_user(request, f"{done} reactivated.", messages.SUCCESS)
        if refused:
            self.message_user(
                request, f"{refused} erased, which cannot be reactivated.", messages.WARNING
            )

    @admin.action(description="Deactivate selected accounts", permissions=["change"])
    def deactivate_accounts(self, request: HttpRequest, queryset) -> None:
        done = sum(
            deactivate_account(user=user, actor=request.user, source=Source.STAFF)
            for user in queryset
        )
        self.message_user(request, f"{done} deactivated.", messages.SUCCESS)


# allauth's own admin lets staff add an address to someone's account, make it primary and mark
# it verified, unaudited: a way to take an account over by its password reset. Addresses change
# only through their owner's verified email change; here they are shown, never written.
if admin.site.is_registered(EmailAddress):
    admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class EmailAddressAdmin(ReadOnlyAdmin):
    list_display = ("email", "user", "primary", "verified")
    list_filter = ("primary", "verified")
    search_fields = ("email", "user__email")
    list_select_related = ("user",)
    fields = readonly_fields = ("email", "user", "primary", "verified")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, read-only: nobody adds, edits or deletes a row here."""

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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


STEPS = {
    "link": "Link to the account",
    "identity": "Record the identity check",
    "extend": "Extend by two months",
    "refuse": "Refuse",
    "fulfil": "Fulfil",
}


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    """Requests made by email, phone or post, and self-service erasures: overdue first,
    then by due date. Acting on one (identity check, extension, refusal, fulfilment) needs
    the "fulfil privacy requests" permission; logging one needs "add"."""

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
            logged_by=request.user,
            subject=obj.subject,
            requester_name=obj.requester_name,
            requester_contact=obj.requester_contact,
            details=obj.details,
        )
        obj.pk = created.pk
        obj.due_on = created.due_on

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:

            class LoggingForm(form):
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
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/act/<slug:step>/",
                self.admin_site.admin_view(self.act_view),
                name="{}_{}_act".format(*info),
            ),
            *super().get_urls(),
        ]

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
            return self._act_page(request, privacy_request, step, back)
        try:
            response = self._act(request, privacy_request, step)
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
        staff = request.user
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
        staff = request.user
        kind = privacy_request.request_type
        if kind == PrivacyRequest.Type.ACCESS:
            data = fulfil_access_request(privacy_request=privacy_request, staff=staff)
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
        context = {
            **self.admin_site.each_context(request),
            "title": f"{STEPS[step]}: {privacy_request.reference}",
            "opts": self.opts,
            "original": privacy_request,
            "step": step,
            "step_label": STEPS[step],
            "profile_form": profile_form,
            "errors": errors,
            "back": back,
        }
        return TemplateResponse(request, "admin/accounts/privacyrequest/act.html", context)
