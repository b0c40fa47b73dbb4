"""Newsletter sign-up without an account, confirmed by a link (double opt-in)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from communications.services.preferences import confirm_newsletter, request_newsletter
from consent.forms import NewsletterSignupForm
from consent.models import Purpose
from consent.provenance import Provenance
from consent.selectors import optional_purpose_get
from consent.services import read_newsletter_request
from consent.tokens import TokenError, TokenUse, make_token

from .preferences import token_invalid


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Every valid request gets the same answer, known address or not: no enumeration."""
    form = NewsletterSignupForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        # The link goes by email only: showing it here would let anyone subscribe any address.
        request_newsletter(
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            provenance=Provenance.from_request(request),
        )
        return render(request, "consent/newsletter_check_inbox.html")
    newsletter = optional_purpose_get(code=Purpose.NEWSLETTER)
    return render(
        request,
        "consent/newsletter.html",
        {"form": form, "wording": newsletter.wording if newsletter else ""},
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button, since mail scanners fetch links; POST subscribes."""
    try:
        if request.method != "POST":
            asked = read_newsletter_request(token)
            return render(
                request,
                "consent/newsletter_confirm.html",
                {"asked": asked, "action": request.path},
            )
        subscriber = confirm_newsletter(token=token, provenance=Provenance.from_request(request))
    except TokenError as error:
        return token_invalid(request, error)
    preferences_url = reverse(
        "preferences-token", args=[make_token(subject=subscriber, use=TokenUse.PREFERENCES)]
    )
    return render(
        request, "consent/newsletter_subscribed.html", {"preferences_url": preferences_url}
    )
