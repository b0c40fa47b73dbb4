"""Staff issue and revoke the shop's systems' keys here; both go through ``api_keys.services``,
which records who did it (``APIKeyEvent``). A key is shown once, on the page that issues it,
and never changed afterwards: no edit, no delete, only revoke. The library's own unscoped
``APIKey`` model is taken out of the admin, so no key can be made that skips the audit."""

from __future__ import annotations

import rest_framework_api_key.admin  # noqa: F401  registers APIKey first, unregistered below
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from api_keys.models import APIKeyEvent, Scope, SystemAPIKey
from api_keys.services import issue_api_key, revoke_api_key
from privacy_site.admin_tools import (
    AddOnlyAdmin,
    ReadOnlyAdmin,
    admin_path,
    adopt_saved,
    object_page,
)
from privacy_site.auth_user import logged_in_user

if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class IssueKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only what the system needs: each scope opens the endpoints it names.",
    )

    class Meta:
        model = SystemAPIKey
        fields = ("name", "scopes", "expiry_date")
        help_texts = {
            "name": "The system that will use the key, e.g. 'Checkout (production)'.",
            "expiry_date": "Optional: the key stops working then.",
        }

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the name of the system that will use the key.")
        return name

    def clean_expiry_date(self):
        expires = self.cleaned_data.get("expiry_date")
        if expires is not None and expires <= timezone.now():
            raise forms.ValidationError("The expiry date must be in the future.")
        return expires


@admin.register(SystemAPIKey)
class SystemAPIKeyAdmin(AddOnlyAdmin):
    """A key is issued through ``issue_api_key`` and never edited (a system needing other scopes
    gets a new key) nor deleted (the audit rows point at it): it is revoked instead."""

    add_form = IssueKeyForm
    list_display = (
        "name",
        "prefix",
        "scope_list",
        "state",
        "created",
        "created_by",
        "expiry_date",
        "last_used_at",
    )
    list_filter = ("revoked", "created")
    search_fields = ("name", "prefix")
    list_select_related = ("created_by",)
    actions = ("revoke_action",)
    fields = (*list_display, "revoked_at", "revoked_by")
    readonly_fields = fields
    change_form_template = "admin/api_keys/systemapikey/change_form.html"

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.display(description="scopes")
    def scope_list(self, obj: SystemAPIKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="state")
    def state(self, obj: SystemAPIKey) -> str:
        if obj.revoked:
            return "revoked"
        return "expired" if obj.has_expired else "active"

    # --- Issuing ----------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: SystemAPIKey, form, change: bool) -> None:
        if change:
            raise PermissionDenied("A key can't be changed; revoke it and issue a new one.")
        issued, secret = issue_api_key(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expiry_date"],
            actor=logged_in_user(request),
        )
        adopt_saved(obj, issued)
        # Shown once by response_add, never stored.
        obj.issued_secret = secret

    def response_add(self, request: HttpRequest, obj: SystemAPIKey, post_url_continue=None):
        response = object_page(
            self,
            request,
            "admin/api_keys/systemapikey/issued.html",
            original=obj,
            title=f"Key issued for {obj.name}",
            secret=obj.issued_secret,
            keyword="Api-Key",
        )
        response["Cache-Control"] = "no-store"
        return response

    # --- Revoking ---------------------------------------------------------------------------

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke_action(self, request: HttpRequest, queryset: QuerySet[SystemAPIKey]) -> None:
        revoked = sum(revoke_api_key(key=key, actor=logged_in_user(request)) for key in queryset)
        self.message_user(request, f"{revoked} key(s) revoked.", messages.SUCCESS)

    def get_urls(self):
        revoke = admin_path(self, "<path:object_id>/revoke/", self.revoke_view, "revoke")
        return [revoke, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        key = SystemAPIKey.objects.filter(pk=unquote(object_id)).first()
        if key is not None and not key.revoked and self.has_revoke_permission(request):
            extra_context["revoke_url"] = reverse(
                "admin:api_keys_systemapikey_revoke", args=(object_id,)
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        key = get_object_or_404(SystemAPIKey, pk=unquote(object_id))
        change_url = reverse("admin:api_keys_systemapikey_change", args=(object_id,))
        if request.method == "POST":
            if revoke_api_key(key=key, actor=logged_in_user(request)):
                self.message_user(request, f"Key {key.prefix} revoked.", messages.SUCCESS)
            else:
                self.message_user(request, "It had already been revoked.", messages.WARNING)
            return HttpResponseRedirect(change_url)
        return object_page(
            self,
            request,
            "admin/api_keys/systemapikey/revoke.html",
            original=key,
            title=f"Revoke the key of {key.name}",
            back=change_url,
        )


@admin.register(APIKeyEvent)
class APIKeyEventAdmin(ReadOnlyAdmin):
    """Who issued or revoked which key, every key refused and every address blocked:
    read-only, as the rows are append-only."""

    list_display = (
        "occurred_at",
        "kind",
        "key",
        "reason",
        "presented_prefix",
        "client_address",
        "actor",
    )
    list_filter = ("kind", "reason")
    search_fields = ("key__name", "key__prefix", "presented_prefix", "client_address")
    list_select_related = ("key", "actor")
    fields = (*list_display, "scopes")
    readonly_fields = fields
    show_full_result_count = False
