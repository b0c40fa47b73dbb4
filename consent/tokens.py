"""Signed links that act for one person without a login: preference centre and unsubscribe.

A token carries the subject's id, the purpose (``*`` for all of them) and a fingerprint of the
subject's email address, signed with a salt per use, so a token made for one use is refused by
another, and a token stops working when the address it was sent to changes. Tokens expire
after ``CONSENT_TOKEN_MAX_AGE`` seconds (60 days by default; never less than 30 days, since a
newsletter can sit in an inbox that long).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing

from privacy_site.auth_user import AuthUser

logger = logging.getLogger(__name__)

ALL_PURPOSES = "*"
MIN_MAX_AGE = 30 * 24 * 3600


class TokenUse(StrEnum):
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"


class TokenError(Exception):
    """The token is tampered with, expired, made for another use, or its subject is gone."""

    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # True when the link itself is sound but names nobody we can act for any more.
        self.gone = gone


@dataclass(frozen=True)
class TokenClaim:
    subject: AuthUser
    purpose: str  # a purpose code, or ALL_PURPOSES
    # Whatever the issuer attached to find its own record again (the email it was sent in);
    # opaque to this app.
    ref: str = ""


def _salt(use: TokenUse) -> str:
    return f"consent.token.{use}"


def _fingerprint(email: str) -> str:
    return hashlib.sha256(email.lower().encode()).hexdigest()[:16]


def max_age() -> int:
    return max(getattr(settings, "CONSENT_TOKEN_MAX_AGE", 60 * 24 * 3600), MIN_MAX_AGE)


def make_token(
    *, subject: AuthUser, use: TokenUse, purpose: str = ALL_PURPOSES, ref: str = ""
) -> str:
    payload = {"s": subject.pk, "p": purpose, "e": _fingerprint(subject.email)}
    if ref:
        payload["r"] = ref
    # What signing.dumps(payload, salt=_salt(use)) returns (read back by signing.loads), made
    # without deriving the key again for every token: a campaign signs two per recipient.
    # Not compressed: the payload is some 60 bytes. Older compressed tokens still read.
    value = signing.b64_encode(json.dumps(payload, separators=(",", ":")).encode("latin-1"))
    signer, keyed = _signing_for(settings.SECRET_KEY, use)
    value += b":" + signer.timestamp().encode()
    mac = keyed.copy()
    mac.update(value)
    return (value + b":" + signing.b64_encode(mac.digest())).decode()


@functools.lru_cache(maxsize=8)
def _signing_for(secret: str, use: TokenUse) -> tuple[signing.TimestampSigner, hmac.HMAC]:
    """``signing.TimestampSigner(salt=_salt(use))`` (for its clock) and the keyed HMAC it
    signs with (Django's ``salted_hmac``: SHA-256 keyed by the hash of the signer's salt and
    the secret), to be copied for each token."""
    signer = signing.TimestampSigner(key=secret, salt=_salt(use))
    key = hashlib.sha256(f"{_salt(use)}signer".encode() + secret.encode()).digest()
    return signer, hmac.new(key, digestmod=hashlib.sha256)


def read_token(token: str, *, use: TokenUse) -> TokenClaim:
    """The claim a valid token makes; ``TokenError`` (logged) for any other token."""
    try:
        payload = signing.loads(token, salt=_salt(use), max_age=max_age())
    except signing.SignatureExpired:
        return _refuse("expired", use)
    except signing.BadSignature:
        return _refuse("bad signature", use)
    if not isinstance(payload, dict) or not {"s", "p", "e"} <= payload.keys():
        return _refuse("malformed", use)
    subject = get_user_model().objects.filter(pk=payload["s"]).first()
    if subject is None or _fingerprint(subject.email) != payload["e"]:
        return _refuse("subject unknown or address changed", use, gone=True)
    return TokenClaim(subject=subject, purpose=str(payload["p"]), ref=str(payload.get("r", "")))


def _refuse(reason: str, use: TokenUse, *, gone: bool = False) -> TokenClaim:
    logger.warning("consent token refused (%s) for use %s", reason, use)
    raise TokenError(reason, gone=gone)
