"""The limit on failed API-key attempts per client address, on DRF's throttle machinery.

Only failures count: a client whose allowance (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
["api_key_failures"]``, e.g. ``10/h``) is used up gets 429 for every request carrying a key,
the right one included, until its oldest failure leaves the window. Counted per address, not
per key: keys are random, so there is no account to guess at, and a limit per key prefix would
let anyone lock a system out by sending its (non-secret) prefix with a wrong secret.
"""

from __future__ import annotations

from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from privacy_site.clients import client_network

UNKNOWN_CLIENT = "unknown"


def client_address(request: Request) -> str:
    """The client as the login lockout counts it (``privacy_site.clients``)."""
    return client_network(request) or UNKNOWN_CLIENT


class TooManyFailedKeys(Throttled):
    default_detail = "Too many failed API key attempts from your address."
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."
    default_code = "api_key_failures"


class FailedAPIKeyThrottle(SimpleRateThrottle):
    """A sliding window of failure times per client address, kept in the cache (Redis)."""

    scope = "api_key_failures"
    # Set from the rate by SimpleRateThrottle.__init__, and read only while a rate is set.
    num_requests: int
    duration: int

    def get_rate(self) -> str | None:
        # Read when used, not when the module loads, so settings overrides apply. The stubs
        # type the rates as numbers; they are strings such as "10/h".
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # type: ignore[return-value]

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
