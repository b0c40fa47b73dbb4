"""The customer's own account pages. Each view acts on ``request.user`` only: there is no URL
naming another person, so nobody can read or change someone else's data through them."""

from __future__ import annotations

from typing import Any

from allauth.account import views as allauth_views
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.data_rights import kept_on_erasure
from accounts.forms import DeleteAccountForm, ProfileForm
from accounts.models import AuditSource
from accounts.selectors import audit_events_for, export_personal_data, latest_address_verification
from accounts.services import FIELD_LABELS, profile_values, update_profile
from accounts.services.privacy import deactivate_account, request_erasure
from privacy_site.auth_user import logged_in_user
from privacy_site.downloads import json_download

RECENT_CHANGES = 20
DELETE_WINDOW = 15 * 60


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = logged_in_user(request)
    if request.method != "POST":
        return _page(request, ProfileForm(initial=profile_values(user)))
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    fields = {name: form.cleaned_data[name] for name in form.fields}
    try:
        update = update_profile(user=user, actor=user, source=AuditSource.PROFILE_PAGE, **fields)
    except ValidationError as error:
        form.add_error(None, error)
        return _page(request, form, status=400)
    if update.changed:
        messages.success(
            request, f"Your profile is saved. Changed: {', '.join(update.changed_labels)}."
        )
    else:
        messages.info(request, "Nothing changed.")
    return HttpResponseRedirect(reverse("account_profile"))


def _page(request: HttpRequest, form: ProfileForm, *, status: int = 200) -> HttpResponse:
    user = logged_in_user(request)
    changes = [
        (event, FIELD_LABELS.get(event.field, event.field))
        for event in audit_events_for(subject=user)[:RECENT_CHANGES]
    ]
    verification = latest_address_verification(user=user)
    context = {"form": form, "changes": changes, "verification": verification}
    return render(request, "accounts/profile.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def export(request: HttpRequest) -> HttpResponse:
    """Everything held about the person: a readable page, or ``?format=json`` to download."""
    wanted = request.GET.get("format", "html")
    if wanted not in ("html", "json"):
        return render(
            request,
            "accounts/export_error.html",
            {"message": "Choose the format html or json."},
            status=400,
        )
    data = export_personal_data(logged_in_user(request))
    if wanted == "json":
        return json_download(data, f"personal-data-{timezone.localdate():%Y-%m-%d}.json")
    return render(
        request,
        "accounts/export.html",
        {"data": data, "kept": _how_long_lines(data["how_long_we_keep_it"])},
    )


def _how_long_lines(statements: dict[str, Any], within: str = "") -> list[tuple[str, str]]:
    """The copy's "how long we keep it" as (part, statement) lines for the page."""
    lines: list[tuple[str, str]] = []
    for key, value in statements.items():
        name = key.replace("_", " ")
        label = f"{within}: {name}" if within else name.capitalize()
        if isinstance(value, dict):
            lines.extend(_how_long_lines(value, label))
        else:
            lines.append((label, value))
    return lines


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def deactivate(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "accounts/deactivate.html")
    user = logged_in_user(request)
    deactivate_account(user=user, actor=user, source=AuditSource.ACCOUNT)
    logout(request)
    return render(request, "accounts/deactivated.html")


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def delete(request: HttpRequest) -> HttpResponse:
    """Erasure, after the password is typed again. Wrong passwords are limited per account
    (``ACCOUNT_DELETE_ATTEMPTS`` in 15 minutes), so a borrowed session can't guess it."""
    user = logged_in_user(request)
    if request.method != "POST":
        return _delete_page(request, DeleteAccountForm(user=user))
    attempts_key = f"accounts:delete-attempts:{user.pk}"
    if (cache.get(attempts_key) or 0) >= settings.ACCOUNT_DELETE_ATTEMPTS:
        return _delete_page(
            request,
            DeleteAccountForm(user=user),
            status=429,
            error="Too many wrong passwords. Try again in 15 minutes.",
        )
    form = DeleteAccountForm(request.POST, user=user)
    if not form.is_valid():
        if form.has_error("password", "wrong_password"):
            cache.add(attempts_key, 0, DELETE_WINDOW)
            cache.incr(attempts_key)
        return _delete_page(request, form, status=400)
    cache.delete(attempts_key)
    email = user.email
    request_erasure(user=user, actor=user, source=AuditSource.ACCOUNT)
    logout(request)
    return render(request, "accounts/deleted.html", {"email": email})


def _delete_page(
    request: HttpRequest, form: DeleteAccountForm, *, status: int = 200, error: str = ""
) -> HttpResponse:
    context = {"form": form, "kept": kept_on_erasure(), "error": error}
    return render(request, "accounts/delete.html", context, status=status)


# --- django-allauth's pages, changed where the product needs it ---------------------------------
# Routed in accounts/urls.py, which comes before allauth's URLs.


class ConfirmEmailView(allauth_views.ConfirmEmailView):
    """A verification link that is unknown, expired or already used answers 404 with the page
    that says so, on GET and on POST (allauth answers 200, or Django's bare 404 on POST). A
    confirmed new address, its audit row and the notices to the parties that had the old one
    (``accounts.receivers``) are one transaction."""

    @method_decorator(transaction.atomic)
    def post(self, *args, **kwargs) -> HttpResponse:
        try:
            self.get_object()
        except Http404:
            self.object = None
            return self.render_to_response(self.get_context_data())
        return super().post(*args, **kwargs)

    def render_to_response(self, context: dict, **response_kwargs) -> HttpResponse:
        if context.get("confirmation") is None:
            response_kwargs["status"] = 404
        return super().render_to_response(context, **response_kwargs)


class EmailView(allauth_views.EmailView):
    """The email page: an address made primary, its audit row and the notices to the parties
    that had the old one (``accounts.receivers``) are one transaction."""

    @method_decorator(transaction.atomic)
    def post(self, *args, **kwargs) -> HttpResponse:
        return super().post(*args, **kwargs)


class PasswordResetFromKeyView(allauth_views.PasswordResetFromKeyView):
    """A reset link that is unknown, expired or already used answers 404 with the page that
    says so. A new password and its audit row (``accounts.receivers``) are one transaction."""

    def render_to_response(self, context: dict, **response_kwargs) -> HttpResponse:
        if context.get("token_fail"):
            response_kwargs["status"] = 404
        return super().render_to_response(context, **response_kwargs)

    @transaction.atomic
    def form_valid(self, form) -> HttpResponse:
        return super().form_valid(form)


class PasswordChangeView(allauth_views.PasswordChangeView):
    """The new password and its audit row (``accounts.receivers``) are one transaction."""

    @transaction.atomic
    def form_valid(self, form) -> HttpResponse:
        return super().form_valid(form)


class PasswordSetView(allauth_views.PasswordSetView):
    """The first password and its audit row (``accounts.receivers``) are one transaction."""

    @transaction.atomic
    def form_valid(self, form) -> HttpResponse:
        return super().form_valid(form)
