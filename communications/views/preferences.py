"""The preference centre (logged in, or from a signed email link) and one-click unsubscribe."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from html import escape

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from communications.services.preferences import save_preferences, withdraw_all_with_receipt
from communications.services.unsubscribe import unsubscribe_from_delivery
from consent.forms import PreferencesForm
from consent.models import ConsentEvent
from consent.provenance import Provenance
from consent.selectors import (
    consent_history_rows,
    consent_status,
    nothing_to_withdraw,
    optional_purpose_get,
)
from consent.services import ConsentSource
from consent.tokens import ALL_PURPOSES, TokenError, TokenUse, make_token, read_token
from privacy_site.auth_user import AuthUser, logged_in_user
from privacy_site.numbers import whole_number

logger = logging.getLogger(__name__)

WITHDRAW_ALL = "withdraw_all"
# The consent history shows this many choices a page, newest first (``?history=N`` pages on).
HISTORY_PAGE_SIZE = 20
# A page number past any real history: a bigger one is read as this (no huge OFFSET).
_LAST_HISTORY_PAGE = 10_000
ONE_CLICK_BODY = ("List-Unsubscribe", "One-Click")  # RFC 8058


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def preference_centre(request: HttpRequest) -> HttpResponse:
    return _preference_centre(request, subject=logged_in_user(request))


@require_http_methods(["GET", "HEAD", "POST"])
def preference_centre_by_token(request: HttpRequest, token: str) -> HttpResponse:
    """The same page for whoever holds a preference link: the token is the credential."""
    try:
        claim = read_token(token, use=TokenUse.PREFERENCES)
    except TokenError as error:
        return token_invalid(request, error)
    return _preference_centre(request, subject=claim.subject)


def _preference_centre(request: HttpRequest, *, subject: AuthUser) -> HttpResponse:
    status = consent_status(subject=subject)
    purposes = [state.purpose for state in status.values() if not state.mandatory]
    if request.method == "POST" and request.POST.get("action") == WITHDRAW_ALL:
        changed = withdraw_all_with_receipt(
            subject=subject,
            source=ConsentSource.PREFERENCE_CENTRE,
            provenance=Provenance.from_request(request),
        )
        _report_changes(request, changed)
        return redirect(request.path)
    form = PreferencesForm(
        request.POST if request.method == "POST" else None, purposes=purposes, status=status
    )
    if form.is_valid():
        changed = save_preferences(
            subject=subject,
            choices=form.choices(),
            source=ConsentSource.PREFERENCE_CENTRE,
            provenance=Provenance.from_request(request),
        )
        _report_changes(request, changed)
        return redirect(request.path)
    return render(
        request,
        "consent/preferences.html",
        {
            "subject": subject,
            "form": form,
            "mandatory": [state.purpose for state in status.values() if state.mandatory],
            **_history_page(request, subject=subject),
            "action": request.path,
            "withdraw_all": WITHDRAW_ALL,
        },
        status=400 if form.is_bound else 200,
    )


# How a choice was made, in the person's words (a ConsentEvent's source).
HOW_YOU_CHOSE = {
    "signup_form": "On the sign-up form",
    "newsletter_form": "On the newsletter form",
    "order_form": "On an order form",
    "preference_centre": "In your email preferences",
    "unsubscribe_link": "With the unsubscribe link in one of our emails",
    "one_click": "With your email program's unsubscribe button",
    "provider_complaint": "You marked one of our emails as spam",
    "provider_unsubscribe": "Through your email provider's unsubscribe",
    "mailto_unsubscribe": "By emailing us to unsubscribe",
    "staff": "By Customer Support",
    "api": "Through our shop",
    "import": "Brought over from our earlier records",
    "reconsent": "When we asked you again",
    "erasure": "When your account was erased",
}


_HISTORY_ROW = (
    '<li class="timeline-event {}">'
    '<p class="timeline-when"><time datetime="{}">{}</time></p>'
    '<p class="timeline-what"><strong>{}</strong>: <span class="timeline-choice">{}</span></p>'
    '<p class="timeline-how small">{}, under <a href="{}">privacy policy version {}</a></p>'
    "</li>"
)


def _timeline(rows: Iterable[tuple[object, ...]]) -> SafeString:
    """The rows as the timeline's list items, every value escaped as Django's ``escape``
    escapes it (``html.escape`` of the value as text). Printed as one piece: twenty rows
    through the template engine's nodes, or through ``format_html``'s escaping (which asks of
    every value whether it is lazy), cost more than the rest of the page."""
    items = (_HISTORY_ROW.format(*(escape(str(value)) for value in row)) for row in rows)
    return mark_safe("\n".join(items))  # noqa: S308  # every value is escaped above


def _history_page(request: HttpRequest, *, subject: AuthUser) -> dict[str, object]:
    """One page of the subject's consent history, newest first: ``history`` (the page's
    choices as the timeline's list items, every value escaped) and the numbers of the newer
    and older pages (None at either end). A page number that isn't one is read as the first page."""
    raw = request.GET.get("history", "")
    asked = whole_number(raw)
    page = min(asked, _LAST_HISTORY_PAGE) if asked else 1
    start = (page - 1) * HISTORY_PAGE_SIZE
    # One row more than the page: whether an older page exists, without counting them all.
    events = list(consent_history_rows(subject=subject)[start : start + HISTORY_PAGE_SIZE + 1])
    version_urls: dict[int, str] = {}
    rows = []
    for _pk, granted, purpose, occurred_at, source, number in events[:HISTORY_PAGE_SIZE]:
        if number not in version_urls:
            version_urls[number] = reverse("privacy-version", args=[number])
        occurred = timezone.localtime(occurred_at)
        rows.append(
            (
                "timeline-granted" if granted else "timeline-withdrawn",
                occurred.isoformat(timespec="seconds"),
                f"{occurred.day} {occurred:%B %Y, %H:%M}",
                purpose,
                "turned on" if granted else "turned off",
                HOW_YOU_CHOSE.get(source) or ConsentSource(source).label,
                version_urls[number],
                number,
            )
        )
    return {
        "history": _timeline(rows),
        "history_page": page,
        "newer_history_page": page - 1 if page > 1 else None,
        "older_history_page": page + 1 if len(events) > HISTORY_PAGE_SIZE else None,
    }


def _report_changes(request: HttpRequest, changed: list[ConsentEvent]) -> None:
    if not changed:
        messages.info(request, "No changes.")
        return
    listed = "; ".join(
        f"{event.purpose.name}: {'on' if event.granted else 'off'}" for event in changed
    )
    messages.success(request, f"Saved. {listed}.")


# Exempt from CSRF on purpose, and only this view: RFC 8058 one-click unsubscribes are POSTed
# by mail providers, which have neither our cookie nor a CSRF token. Forging this POST gains
# an attacker nothing: it needs the signed token, which is the secret, and it can only turn
# email off for the person the token names.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what would stop and a button; only POST unsubscribes. Repeats are harmless."""
    try:
        claim = read_token(token, use=TokenUse.UNSUBSCRIBE)
    except TokenError as error:
        return token_invalid(request, error)
    subject = claim.subject
    purpose = None
    if claim.purpose != ALL_PURPOSES:
        purpose = optional_purpose_get(code=claim.purpose)
        if purpose is None:
            # Signed by us for a purpose since removed or made mandatory: nothing to stop.
            logger.warning("unsubscribe link refused: %r is not an optional purpose", claim.purpose)
            return token_invalid(request, TokenError("purpose no longer optional"))
    context = {"purpose": purpose, "action": request.path}
    if request.method != "POST":
        if nothing_to_withdraw(subject=subject, purpose=purpose):
            # Say what is true now rather than offer to stop what has stopped.
            return render(
                request,
                "consent/unsubscribe_done.html",
                {**context, "already": True, "preferences_url": _preferences_url(subject)},
            )
        return render(request, "consent/unsubscribe.html", context)
    one_click = request.POST.get(ONE_CLICK_BODY[0]) == ONE_CLICK_BODY[1]
    source = ConsentSource.ONE_CLICK if one_click else ConsentSource.UNSUBSCRIBE_LINK
    unsubscribe_from_delivery(
        subject=subject,
        source=source,
        purpose=claim.purpose,
        delivery_id=whole_number(claim.ref),
        provenance=Provenance.from_request(request),
    )
    return render(
        request,
        "consent/unsubscribe_done.html",
        {**context, "preferences_url": _preferences_url(subject)},
    )


def _preferences_url(subject: AuthUser) -> str:
    return reverse(
        "preferences-token", args=[make_token(subject=subject, use=TokenUse.PREFERENCES)]
    )


def token_invalid(request: HttpRequest, error: TokenError) -> HttpResponse:
    """The one page every refused link shows; 404 when the person it names is gone."""
    return render(request, "consent/token_invalid.html", status=404 if error.gone else 400)
