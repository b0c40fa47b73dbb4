"""``Authorization: Api-Key <key>``: how the shop's systems authenticate to the API."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_api_key.permissions import KeyParser

from api_keys import services
from api_keys.models import SystemAPIKey
from api_keys.throttling import FailedAPIKeyThrottle, client_address

INVALID_KEY = "Invalid API key."


class APIKeyAuthentication(BaseAuthentication):
    """A system's key, for the endpoints whose permission accepts its scope.

    Success sets ``request.auth`` to the ``SystemAPIKey`` and leaves ``request.user``
    anonymous: a key acts for a system, never for a person, so it opens no endpoint that needs
    a logged-in user. An unknown, malformed, revoked or expired key gets one answer (403
    ``Invalid API key.``), is recorded and counts against the client's failure limit.
    A request without an ``Api-Key`` authorization is left to the other schemes.
    """

    keyword = KeyParser.keyword
    key_parser = KeyParser()

    def authenticate(self, request: Request) -> tuple[AnonymousUser, SystemAPIKey] | None:
        secret = self.key_parser.get(request)
        if secret is None:
            return None
        throttle = FailedAPIKeyThrottle()
        throttle.check(request)
        try:
            api_key = services.key_from_secret(secret.strip())
        except services.KeyRefused as refusal:
            limit_reached = throttle.record_failure(request)
            services.record_refusal(
                refusal=refusal,
                secret=secret.strip(),
                client_address=client_address(request),
                limit_reached=limit_reached,
            )
            raise AuthenticationFailed(INVALID_KEY) from None
        services.note_key_use(key=api_key)
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
