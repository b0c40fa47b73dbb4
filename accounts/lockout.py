"""How django-axes limits password guessing on every page that takes a password.

Failures are counted per account (the address typed, whether or not an account has it) and
per client address, on the customer login, the admin login and allauth's re-authentication:
they all call ``django.contrib.auth.authenticate``, where ``AxesStandaloneBackend`` refuses a
locked login before any password is checked. Axes keeps the counts (``AccessAttempt``) and
the audit of every failure (``AccessFailureLog``); this module only tells it how to read our
requests, and answers a locked login with our own page. The settings are in the "Lockout"
block of ``privacy_site/settings.py``; docs/OPERATIONS.md "Security" has the rules.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from allauth.account.adapter import get_adapter
from axes.helpers import get_cool_off
from axes.utils import reset
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# AccessAttempt.username is a 255-character column.
NAME_LENGTH = 255
# An IPv6 client usually holds a whole /64: count the network, or changing the last bits of
# the address would give an attacker a fresh count for every guess.
IPV6_PREFIX = 64


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
    """The client's address as allauth finds it (``ALLAUTH_TRUSTED_PROXY_COUNT`` proxies
    trusted in ``X-Forwarded-For``), so allauth's rate limits and the lockout agree on who the
    client is; an IPv6 address is counted by its /64 network."""
    try:
        address = get_adapter(request).get_client_ip(request)
    except PermissionDenied:  # no address at all (a request built in code, not from a client)
        return None
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


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
