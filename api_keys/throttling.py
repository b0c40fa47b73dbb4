"""The limit on failed API-key attempts per client address, on DRF's throttle machinery.

Only failures count: a client whose allowance (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
["api_key_failures"]``, e.g. ``10/h``) is used up gets 429 for every request carrying a key,
the right one included, until its oldest failure leaves the window. Counted per address, not
per key: keys are random, so there is no account to guess at, and a limit per key prefix would
let anyone lock a system out by sending its (non-secret) prefix with a wrong secret.
"""

from __future__ import annotations

import ipaddress

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

# An IPv6 client usually holds a whole /64: count the network, or changing the last bits of
# the address would give an attacker a fresh allowance for every guess.
IPV6_PREFIX = 64
UNKNOWN_CLIENT = "unknown"


def client_address(request: Request) -> str:
    """The client's address as allauth finds it (``ALLAUTH_TRUSTED_PROXY_COUNT`` proxies trusted
    in ``X-Forwarded-For``, else ``REMOTE_ADDR``): the same client the login lockout counts."""
    try:
        address = DefaultAccountAdapter(request).get_client_ip(request)
        parsed = ipaddress.ip_address(address)
    except (PermissionDenied, ValueError):  # no usable address (a request built in code)
        return UNKNOWN_CLIENT
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


class TooManyFailedKeys(Throttled):
    default_detail = "Too many failed API key attempts from your address."
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."
    default_code = "api_key_failures"


class FailedAPIKeyThrottle(SimpleRateThrottle):
    """A sliding window of failure times per client address, kept in the cache (Redis)."""

    scope = "api_key_failures"

    def get_rate(self) -> str | None:
        # Read when used, not when the module loads, so settings overrides apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Request, view: object = None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

    def _load(self, request: Request) -> None:
        self.key = self.get_cache_key(request)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()

    def check(self, request: Request) -> None:
        """Raise TooManyFailedKeys while the client has no failures left."""
        if self.rate is None:
            return
        self._load(request)
        if len(self.history) >= self.num_requests:
            raise TooManyFailedKeys(wait=self.wait())

    def record_failure(self, request: Request) -> bool:
        """Count one failure; True when it used up the client's allowance."""
        if self.rate is None:
            return False
        self._load(request)
        self.throttle_success()  # DRF's name for "add this request to the history"
        return len(self.history) >= self.num_requests
