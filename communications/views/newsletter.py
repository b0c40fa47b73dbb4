"""Newsletter sign-up without an account, confirmed by a link (double opt-in)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from communications.services.preferences import confirm_newsletter, request_newsletter
from consent.forms import NewsletterSignupForm
from consent.models import Purpose
from consent.provenance import Provenance
from consent.selectors import optional_purpose_get
from consent.services import (
    NewsletterAlreadyConfirmed,
    TooManyNewsletterRequests,
    newsletter_request_used,
    read_newsletter_request,
)
from consent.tokens import TokenError, TokenUse, make_token
from privacy_site.clients import client_ip

from .preferences import token_invalid


def confirmation_url(token: str) -> str:
    """The absolute URL of the confirmation page for a signed request."""
    return settings.SITE_URL + reverse("newsletter-confirm", args=[token])


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Every valid request gets the same answer, whether an email went or not (a new address,
    a known one, one already subscribed, one sent a link earlier today): no enumeration.
    Only a client over its own limit is told so, which says nothing about any address."""
    form = NewsletterSignupForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            # The link goes by email only: showing it here would let anyone subscribe any
            # address.
            request_newsletter(
                email=form.cleaned_data["email"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                provenance=Provenance.from_request(request),
                confirm_url=confirmation_url,
                client=client_ip(request),
            )
        except TooManyNewsletterRequests as refused:
            response = render(request, "consent/newsletter_too_many.html", status=429)
            response["Retry-After"] = str(refused.retry_after)
            return response
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
    """GET only shows a button, since mail scanners fetch links; POST subscribes, once."""
    try:
        if request.method != "POST":
            asked = read_newsletter_request(token)
            if newsletter_request_used(asked):
                return already_confirmed(request)
            return render(
                request,
                "consent/newsletter_confirm.html",
                {"asked": asked, "action": request.path},
            )
        subscriber = confirm_newsletter(token=token, provenance=Provenance.from_request(request))
    except TokenError as error:
        return token_invalid(request, error)
    except NewsletterAlreadyConfirmed:
        return already_confirmed(request)
    preferences_url = reverse(
        "preferences-token", args=[make_token(subject=subscriber, use=TokenUse.PREFERENCES)]
    )
    return render(
        request, "consent/newsletter_subscribed.html", {"preferences_url": preferences_url}
    )


def already_confirmed(request: HttpRequest) -> HttpResponse:
    """A used link changes nothing and hands out nothing (no preference-centre link): whoever
    holds an old email learns only that it was used. 410 Gone: the link did its one job, as a
    used verification or password-reset link is refused too."""
    return render(request, "consent/newsletter_already_confirmed.html", status=410)
