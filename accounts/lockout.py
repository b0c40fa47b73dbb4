"""How django-axes limits password guessing on every page that takes a password.

Failures are counted per account (the address typed, whether or not an account has it) and
per client address, on the customer login, the admin login and allauth's re-authentication:
they all call ``django.contrib.auth.authenticate``, where ``AxesStandaloneBackend`` refuses a
locked login before any password is checked. Axes keeps the counts (``AccessAttempt``) and
the audit of every failure (``AccessFailureLog``); this module only tells it how to read our
requests, and answers a locked login with our own page. The settings are in the "Lockout"
blocks of ``privacy_site/settings.py`` (the limits) and ``privacy_site/conf/auth.py``;
docs/OPERATIONS.md "Security" has the rules.
"""

from __future__ import annotations

from datetime import timedelta

from axes.helpers import get_cool_off
from axes.utils import reset
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from privacy_site.clients import client_network

# AccessAttempt.username is a 255-character column.
NAME_LENGTH = 255


def login_name(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The account a login attempt names, spelt one way. allauth passes ``email``, the admin's
    form passes ``username``; both carry the address, which accounts store lower-cased, so
    ``Ann@Example.com`` and ``ann@example.com`` count as the same account."""
    value = None
    if credentials:
        value = credentials.get("email") or credentials.get("username")
    if value is None:
        value = request.POST.get("login") or request.POST.get("username")
    return _account_key(value)


def _account_key(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.replace("\0", "").strip().lower()[:NAME_LENGTH] or None


def client_address(request: HttpRequest) -> str | None:
    """The client as every limit counts it (``privacy_site.clients``), IPv6 by /64."""
    return client_network(request)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The page for a refused login: 429, the same words whether the address typed has an
    account or not, and nothing that echoes it."""
    cool_off = get_cool_off(request) or timedelta(0)
    minutes = max(1, round(cool_off.total_seconds() / 60))
    response = render(request, "accounts/locked.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    response["Cache-Control"] = "no-store"
    return response


def clear_failures(*, request: HttpRequest | None, email: str, everywhere: bool) -> int:
    """Forget failed logins for the account ``email``: those made from this request's address
    (a successful login), or from every address (``everywhere``: the owner proved they read
    the inbox by resetting the password). Failures against other accounts from the same
    address still count: a successful login into one's own account must not wipe a count of
    guesses at other people's."""
    username = _account_key(email)
    if username is None:
        return 0
    if everywhere:
        return reset(username=username)
    address = client_address(request) if request is not None else None
    if address is None:
        return 0
    return reset(ip=address, username=username)
