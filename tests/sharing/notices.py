"""Helpers of the notice tests: giving a party a notification address or endpoint through the
register's service, and checking a notice's signature as a receiver would."""

from __future__ import annotations

import hashlib
import hmac
import time

from sharing.models import ThirdParty
from sharing.services import PartyDetails, change_third_party
from tests.harness.https_receiver import ReceivedRequest


def set_notification_address(
    party: ThirdParty, officer, *, email: str = "", url: str = ""
) -> ThirdParty:
    details = PartyDetails.of(party)
    change_third_party(
        party=party,
        details=PartyDetails(
            **{
                **details.__dict__,
                "notification_email": email,
                "notification_url": url,
            }
        ),
        actor=officer,
        reason="The party gave us where to send notices of corrections and erasures.",
    )
    party.refresh_from_db()
    return party


def party_key(master: str, party_id: int) -> str:
    """The key a party is given (docs/SHARING.md), worked out here on its own."""
    message = f"sharing-notice-party:{party_id}".encode()
    return hmac.new(master.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(request: ReceivedRequest, *, key: str, max_age: int = 300) -> None:
    """What the party's receiver does (docs/SHARING.md): recompute the HMAC over the
    timestamp, a full stop and the body, compare in constant time, refuse an old timestamp."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    stamp = headers["x-privacy-notice-timestamp"]
    assert abs(time.time() - int(stamp)) < max_age
    expected = hmac.new(key.encode(), stamp.encode() + b"." + request.body, hashlib.sha256)
    assert hmac.compare_digest(
        headers["x-privacy-notice-signature"], f"sha256={expected.hexdigest()}"
    )
