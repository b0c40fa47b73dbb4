"""The wishlist pages: sending one (logged in), the page after, and the friend's link."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from consent.context_processors import browser_cookie_choice
from privacy_site.auth_user import logged_in_user

from .forms import WishlistForm
from .mail import target_of
from .models import Referral
from .rules import link_problem
from .selectors import referrals_left_today
from .services import ReferralRefused, TooManyReferrals, record_click, send_wishlist


@login_required
@sensitive_post_parameters("friend_name", "friend_email", "message")
@require_http_methods(["GET", "HEAD", "POST"])
def send(request: HttpRequest) -> HttpResponse:
    """Nothing of the friend goes into the session or a message: after a send the browser is
    sent on to a page that names nobody."""
    sender = logged_in_user(request)
    form = WishlistForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                referral = send_wishlist(
                    sender=sender,
                    friend_name=form.cleaned_data["friend_name"],
                    friend_email=form.cleaned_data["friend_email"],
                    message=form.cleaned_data["message"],
                    items=form.items(),
                )
            except TooManyReferrals as refused:
                response = render(
                    request, "communications/referrals/too_many.html", {"reason": refused},
                    status=429,
                )  # fmt: skip
                response["Retry-After"] = str(refused.retry_after)
                return response
            except ReferralRefused as refused:
                form.add_error(None, str(refused))
            else:
                if referral.status != Referral.Status.NOT_QUEUED:
                    return redirect("wishlist-sent")
                form.add_error(
                    None,
                    "We could not send your wishlist just now, and we have kept nothing of it. "
                    "Please try again in a few minutes.",
                )
                status = 503
    return render(
        request,
        "communications/referrals/send.html",
        {"form": form, "left_today": referrals_left_today(sender=sender)},
        status=status,
    )


@login_required
@require_http_methods(["GET", "HEAD"])
def sent(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "communications/referrals/sent.html",
        {"left_today": referrals_left_today(sender=logged_in_user(request))},
    )


@require_http_methods(["GET", "HEAD"])
def link(request: HttpRequest, token: str) -> HttpResponse:
    """A link in a wishlist email: counts the click; if the browser allows analytics cookies,
    remembers the referral in the session, so that a sign-up from this browser is counted too
    (and a second click is not); then goes on to the product (a signed link to our shop only)
    or the home page."""
    target = reverse("home")
    signed = request.GET.get("to", "")
    if signed:
        url = target_of(signed)
        if url is not None and link_problem(url) is None:
            target = url
    if request.method == "GET":
        choice = browser_cookie_choice(request)
        remember = choice is not None and choice.analytics
        record_click(token=token, session=request.session, remember=remember)
    return HttpResponseRedirect(target)
