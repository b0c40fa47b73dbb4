"""Authenticator-app codes in tests: what the staff member's phone would show now, worked out
here from RFC 6238 (not with allauth's own code, which is what the tests check)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

PERIOD = 30
DIGITS = 6


def code_for(secret: str, *, at: float | None = None) -> str:
    """The TOTP code of the base32 ``secret`` at ``at`` (now by default)."""
    counter = int((time.time() if at is None else at) // PERIOD)
    key = base64.b32decode(secret, casefold=True)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**DIGITS:0{DIGITS}d}"
