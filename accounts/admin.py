from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .models import AddressVerification, AuditEvent, Profile, User


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


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
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
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
