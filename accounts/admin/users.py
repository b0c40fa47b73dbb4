"""Staff accounts and customers' accounts. A name changes through ``update_profile`` and an
account made here through ``create_account_by_staff``, both audited; the address is the login
and changes only through its owner's verified email change; deactivation and reactivation are
actions calling their services; nobody deletes an account (erasure is the way)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest

from accounts.admin.preferences import CustomerPreferences
from accounts.data_rights import PrivacyError
from accounts.models import AddressVerification, AuditSource, Profile, User
from accounts.services import update_profile
from accounts.services.audit import record_secret_change
from accounts.services.privacy import (
    create_account_by_staff,
    deactivate_account,
    reactivate_account,
)
from privacy_site.admin_tools import ReadOnlyInline, adopt_saved
from privacy_site.auth_user import logged_in_user
from privacy_site.need_to_know_admin import NeedToKnowAdmin, NeedToKnowInline
from staff_access.admin_audit import PersonalDataAdmin


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


class ProfileInline(NeedToKnowInline, ReadOnlyInline, admin.StackedInline):
    """Read-only here: changes go through ``update_profile`` so they reach the audit trail."""

    model = Profile
    fields = readonly_fields = (
        "address_line_1",
        "address_line_2",
        "town",
        "postcode",
        "phone",
        "contact_channel",
        "updated_at",
    )


class AddressVerificationInline(NeedToKnowInline, ReadOnlyInline, admin.TabularInline):
    model = AddressVerification
    ordering = ("-id",)
    fields = readonly_fields = ("created_at", "source", "verified", "postcode", "detail")


ACCESS_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")
DATES = ("last_login", "date_joined", "deactivated_at", "erasure_requested_at", "erased_at")


@admin.register(User)
class UserAdmin(PersonalDataAdmin, NeedToKnowAdmin, CustomerPreferences, BaseUserAdmin):
    person_field = "pk"

    inlines = (ProfileInline, AddressVerificationInline)
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("email", "is_active", *DATES)
    actions = ("reactivate_accounts", "deactivate_accounts")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": DATES}),
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
        if obj is None:
            return ()
        if not logged_in_user(request).is_superuser:
            # Who is staff, and in which role, is for operations (superusers) to decide: a
            # member of staff who may change accounts can't give themselves more access.
            return (*self.readonly_fields, *ACCESS_FIELDS)
        return self.readonly_fields

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
                actor=logged_in_user(request),
            )
            adopt_saved(obj, created)
            return
        roles = [name for name in ("is_staff", "is_superuser") if name in form.changed_data]
        if roles:
            obj.save(update_fields=roles)
        # Only the names on the form: a member of staff who may not see them has no field for
        # them (privacy_site.need_to_know), and changes nothing.
        names = {n: form.cleaned_data[n] for n in ("first_name", "last_name") if n in form.fields}
        try:
            update_profile(
                user=obj, actor=logged_in_user(request), source=AuditSource.STAFF, **names
            )
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
                        subject=user,
                        actor=logged_in_user(request),
                        field="password",
                        source=AuditSource.STAFF,
                    )
        return response

    @admin.action(description="Reactivate selected accounts (support)", permissions=["change"])
    def reactivate_accounts(self, request: HttpRequest, queryset) -> None:
        done = refused = 0
        for user in queryset:
            try:
                changed = reactivate_account(
                    user=user, actor=logged_in_user(request), source=AuditSource.STAFF
                )
            except PrivacyError:
                refused += 1
            else:
                done += changed
                if changed:
                    self._note_change(request, user, ["is_active"])
        self.message_user(request, f"{done} reactivated.", messages.SUCCESS)
        if refused:
            self.message_user(
                request, f"{refused} erased, which cannot be reactivated.", messages.WARNING
            )

    @admin.action(description="Deactivate selected accounts", permissions=["change"])
    def deactivate_accounts(self, request: HttpRequest, queryset) -> None:
        done = 0
        for user in queryset:
            if deactivate_account(
                user=user, actor=logged_in_user(request), source=AuditSource.STAFF
            ):
                done += 1
                self._note_change(request, user, ["is_active"])
        self.message_user(request, f"{done} deactivated.", messages.SUCCESS)
