"""The customer's own account pages. Each view acts on ``request.user`` only: there is no URL
naming another person, so nobody can read or change someone else's data through them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.forms import ProfileForm
from accounts.services import (
    FIELD_LABELS,
    audit_events_for,
    latest_address_verification,
    profile_values,
    update_profile,
)
from accounts.services.audit import Source

RECENT_CHANGES = 20


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, ProfileForm(initial=profile_values(request.user)))
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    fields = {name: form.cleaned_data[name] for name in form.fields}
    try:
        update = update_profile(
            user=request.user, actor=request.user, source=Source.PROFILE_PAGE, **fields
        )
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
    changes = [
        (event, FIELD_LABELS.get(event.field, event.field))
        for event in audit_events_for(subject=request.user)[:RECENT_CHANGES]
    ]
    verification = latest_address_verification(user=request.user)
    context = {"form": form, "changes": changes, "verification": verification}
    return render(request, "accounts/profile.html", context, status=status)
