"""``/my-data/jessops-photo/``: the logged-in person joins or leaves Jessops Photo, CEWE's
printing service, and sees what joining gave CEWE. Translates the form, calls one service."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from consent.models import Purpose
from privacy_site.auth_user import logged_in_user
from sharing.models import DataCategory
from sharing.policy_clauses import policy_clause
from sharing.selectors import photo_memberships_for
from sharing.services.photo_service import (
    JOINING_CATEGORIES,
    PhotoServiceError,
    join_photo_service,
    leave_photo_service,
    open_membership,
    photo_party,
)

JOIN, LEAVE = "join", "leave"
CLAUSE = "Jessops Photo"


class PhotoServiceForm(forms.Form):
    action = forms.ChoiceField(choices=[(JOIN, "Join"), (LEAVE, "Leave")])


def _shared_in_words() -> str:
    labels = dict(DataCategory.choices)
    return " and ".join(labels[category].lower() for category in JOINING_CATEGORIES)


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@login_required
def jessops_photo(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PhotoServiceForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose to join or to leave Jessops Photo.")
            return redirect(request.path)
        try:
            if form.cleaned_data["action"] == JOIN:
                join_photo_service(person=logged_in_user(request))
                messages.success(
                    request,
                    f"You have joined Jessops Photo. We have given CEWE your "
                    f"{_shared_in_words()}, so that they can provide the service; they may use "
                    "them for nothing else. You can see this under Who received your data.",
                )
            else:
                leave_photo_service(person=logged_in_user(request))
                messages.success(
                    request,
                    "You have left Jessops Photo. We will tell CEWE. To close your account "
                    "with CEWE itself, use the Jessops Photo website.",
                )
        except PhotoServiceError as error:
            messages.error(request, str(error))
        return redirect(request.path)
    context = {
        "membership": open_membership(person=logged_in_user(request)),
        "memberships": photo_memberships_for(user=logged_in_user(request)),
        "party": photo_party(),
        "clause": policy_clause(CLAUSE),
        "shared": _shared_in_words(),
        "photo_url": settings.JESSOPS_PHOTO_URL,
        "partner_purpose": Purpose.objects.filter(code=Purpose.PARTNER_PHOTO).first(),
        "join": JOIN,
        "leave": LEAVE,
    }
    return render(request, "sharing/jessops_photo.html", context)
