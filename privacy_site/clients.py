"""Who the client is, one way for every limit: the login lockout, the API-key failure limit and
the newsletter limit all count the same client that allauth's own rate limits count."""

from __future__ import annotations

import ipaddress

from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

# An IPv6 client usually holds a whole /64: count the network, or changing the last bits of
# the address would give an attacker a fresh allowance for every guess.
IPV6_PREFIX = 64


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as allauth finds it: ``TRUSTED_PROXY_COUNT`` proxies trusted in
    ``X-Forwarded-For``, else ``REMOTE_ADDR``. None for a request with no usable address (one
    built in code)."""
    try:
        return str(ipaddress.ip_address(get_adapter(request).get_client_ip(request)))
    except (PermissionDenied, ValueError):
        return None


def client_network(request: HttpRequest) -> str | None:
    """``client_ip``, with an IPv6 client counted by its /64 network."""
    address = client_ip(request)
    if address is None:
        return None
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return address
