"""Sealing what a referral's email needs (the friend's name and address, the message, the
wishlist) for its trip through the broker, which never holds the key.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``): a sealed value can be read only
with the key, and only within ``REFERRAL_SEND_WINDOW`` of sealing, so a message that turns up
later (a broker restored from a backup) is never sent. The key is ``REFERRAL_SEALING_KEY``, or
one derived from ``SECRET_KEY`` (HKDF-SHA256); keys derived from ``SECRET_KEY_FALLBACKS`` still
open what was sealed before a rotation.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_INFO = b"privacy-site.referral-sealing.v1"


@dataclass(frozen=True)
class WishlistItem:
    name: str = ""
    url: str = ""


@dataclass(frozen=True)
class Sealed:
    """What the email needs and nothing keeps: read by the worker from the task's argument."""

    friend_name: str
    friend_email: str
    sender_name: str
    message: str = ""
    items: tuple[WishlistItem, ...] = field(default_factory=tuple)


class Unreadable(Exception):
    """Sealed with an unknown key, tampered with, or older than the send window."""


def _derived(secret: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(key)


def _keys() -> list[Fernet]:
    configured = settings.REFERRAL_SEALING_KEY
    if configured:
        try:
            return [Fernet(configured)]
        except ValueError as error:
            raise ImproperlyConfigured(
                "REFERRAL_SEALING_KEY must be a Fernet key: 32 bytes, URL-safe base64."
            ) from error
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [Fernet(_derived(secret)) for secret in secrets]


def check_key() -> None:
    """Raise ``ImproperlyConfigured`` if the configured key is not usable."""
    _keys()


def seal(details: Sealed) -> str:
    payload = json.dumps(asdict(details), separators=(",", ":")).encode()
    return MultiFernet(_keys()).encrypt(payload).decode()


def unseal(token: str) -> Sealed:
    try:
        payload = MultiFernet(_keys()).decrypt(token.encode(), ttl=settings.REFERRAL_SEND_WINDOW)
        data = json.loads(payload)
        items = tuple(WishlistItem(**item) for item in data.pop("items", []))
        return Sealed(**data, items=items)
    except (InvalidToken, ValueError, TypeError) as error:
        raise Unreadable(type(error).__name__) from None
