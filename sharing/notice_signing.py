"""How a notice posted to a party's endpoint is signed, so the party can tell it came from us.

Each party has its own key: HMAC-SHA256 of ``"sharing-notice-party:<party id>"`` under
``SHARING_NOTIFICATION_SIGNING_KEY``, as 64 hexadecimal characters
(``manage.py notification_signing_key "<party>"`` prints it, to hand to the party). A notice
carries three headers:

- ``X-Privacy-Notice-Id``: the notice's id (the same in the body); a repeat has the same id;
- ``X-Privacy-Notice-Timestamp``: when it was signed, in whole seconds since the Unix epoch;
- ``X-Privacy-Notice-Signature``: ``sha256=`` and the hexadecimal HMAC-SHA256, under the
  party's key (its 64 characters as ASCII bytes), of the timestamp, a full stop, and the
  body's bytes exactly as received.

The receiver recomputes the signature, compares it in constant time, and refuses a timestamp
more than a few minutes away from its clock (a replay). docs/SHARING.md has a receiver.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

ID_HEADER = "X-Privacy-Notice-Id"
TIMESTAMP_HEADER = "X-Privacy-Notice-Timestamp"
SIGNATURE_HEADER = "X-Privacy-Notice-Signature"


class SigningKeyMissing(RuntimeError):
    """``SHARING_NOTIFICATION_SIGNING_KEY`` is not set: nothing can be signed."""


def signing_key_for(party_id: int) -> str:
    """The key of the party with id ``party_id``, as the party is given it."""
    master = settings.SHARING_NOTIFICATION_SIGNING_KEY
    if not master:
        raise SigningKeyMissing(
            "SHARING_NOTIFICATION_SIGNING_KEY is not set: notices to endpoints can't be signed."
        )
    message = f"sharing-notice-party:{party_id}".encode()
    return hmac.new(master.encode(), message, hashlib.sha256).hexdigest()


def signature(*, key: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for ``body`` signed at ``timestamp``."""
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"
