"""Cookie preferences: the banner's Accept all / Reject all, and the page with one box per
category. The choice is kept server side against an anonymous id held in a cookie."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from consent.anonymous_id import parse_anonymous_id
from consent.context_processors import COOKIE_NAME, browser_cookie_choice
from consent.provenance import Provenance
from consent.services import ConsentError, record_cookie_choice

COOKIE_MAX_AGE = 365 * 24 * 3600
ACCEPT_ALL, REJECT_ALL, SAVE = "accept_all", "reject_all", "save"


class CookieChoiceForm(forms.Form):
    # Strict choices: anything but the values our own forms send is refused, not guessed at.
    choice = forms.ChoiceField(
        choices=[(ACCEPT_ALL, "Accept all"), (REJECT_ALL, "Reject all"), (SAVE, "Save")]
    )
    analytics = forms.ChoiceField(choices=[("on", "On")], required=False)
    marketing = forms.ChoiceField(choices=[("on", "On")], required=False)
    next = forms.CharField(required=False, max_length=2000)

    def categories(self) -> tuple[bool, bool]:
        """(analytics, marketing) as chosen."""
        choice = self.cleaned_data["choice"]
        if choice == ACCEPT_ALL:
            return True, True
        if choice == REJECT_ALL:
            return False, False
        return self.cleaned_data["analytics"] == "on", self.cleaned_data["marketing"] == "on"


def sends_gpc(request: HttpRequest) -> bool:
    """The browser's Global Privacy Control signal (``Sec-GPC: 1``)."""
    return request.headers.get("Sec-GPC", "").strip() == "1"


def _safe_next(request: HttpRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("cookies")


@require_http_methods(["GET", "HEAD", "POST"])
def cookie_preferences(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, form=None)
    form = CookieChoiceForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    anonymous_id = parse_anonymous_id(request.COOKIES.get(COOKIE_NAME)) or uuid.uuid4()
    analytics, marketing = form.categories()
    gpc = sends_gpc(request)
    try:
        record_cookie_choice(
            anonymous_id=anonymous_id,
            user=request.user if request.user.is_authenticated else None,
            analytics=analytics,
            marketing=marketing,
            gpc=gpc,
            provenance=Provenance.from_request(request),
        )
    except ConsentError as error:
        form.add_error(None, str(error))
        return _page(request, form=form, status=400)
    notice = "Your cookie choices are saved."
    if gpc:
        notice += " Your browser's Global Privacy Control signal was honoured: marketing is off."
    messages.success(request, notice)
    response = HttpResponseRedirect(_safe_next(request, form.cleaned_data["next"]))
    response.set_cookie(
        COOKIE_NAME,
        str(anonymous_id),
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def _page(request: HttpRequest, *, form: CookieChoiceForm | None, status: int = 200):
    choice = browser_cookie_choice(request)
    if form is not None:
        # Show the boxes as the visitor left them, not as they were stored.
        analytics = form.data.get("analytics") == "on"
        marketing = form.data.get("marketing") == "on"
    else:
        analytics = bool(choice and choice.analytics)
        marketing = bool(choice and choice.marketing)
    gpc = sends_gpc(request)
    context = {
        "form": form,
        "choice": choice,
        "analytics_checked": analytics,
        "marketing_checked": marketing and not gpc,
        "gpc": gpc,
        "gpc_honoured": gpc or bool(choice and choice.gpc_honoured),
    }
    return render(request, "consent/cookies.html", context, status=status)
