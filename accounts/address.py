"""Address verification behind one small interface, chosen by the ``ADDRESS_VERIFIER`` setting.

The policy: "We use AFD software to verify a user's address". A verifier takes the address a
customer typed and says what it found; the profile service stores that answer, with the
verifier's name, as supplementary data from a third party (``AddressVerification``).

- ``PostcodeFormatVerifier`` (the default): checks and normalises the UK postcode format.
  Needs nothing installed and never leaves the machine.
- ``AFDVerifier``: asks an AFD-style HTTPS service (``AFD_API_URL`` with ``AFD_API_KEY``).
  When the service can't answer in ``AFD_TIMEOUT`` seconds, or answers nonsense, it falls back
  to the format check and says so in the result: saving a profile never waits on a third party.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from privacy_site.postcodes import INVALID_POSTCODE, uk_postcode

logger = logging.getLogger(__name__)

DEFAULT_VERIFIER = "accounts.address.PostcodeFormatVerifier"


class InvalidPostcode(ValueError):
    """Not a UK postcode."""


def normalise_postcode(value: str) -> str:
    """``" sw1a1aa "`` -> ``"SW1A 1AA"``: upper case, one space before the inward code.

    Raises ``InvalidPostcode`` for anything that is not a UK postcode."""
    postcode = uk_postcode(value)
    if postcode is None:
        raise InvalidPostcode(INVALID_POSTCODE)
    return postcode


@dataclass(frozen=True)
class AddressInput:
    """The address as the customer typed it (postcode already normalised)."""

    line_1: str = ""
    line_2: str = ""
    town: str = ""
    postcode: str = ""


@dataclass(frozen=True)
class VerificationResult:
    """What a verifier found. ``verified``: the verifier vouches for the address (for the format
    verifier: the postcode is well formed; for AFD: the address was found). ``response`` is the
    third party's answer as received (JSON-able), kept as the supplementary data."""

    verified: bool
    source: str
    postcode: str = ""
    address: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    response: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "source": self.source,
            "postcode": self.postcode,
            "address": dict(self.address),
            "detail": self.detail,
            "response": self.response,
        }


class AddressVerifier(Protocol):
    """What ``ADDRESS_VERIFIER`` must name: a class built with no arguments, with a ``source``
    name and ``verify()``. ``verify`` never raises for a bad address or a failing service: it
    returns a result saying so."""

    source: str

    def verify(self, address: AddressInput) -> VerificationResult: ...


class PostcodeFormatVerifier:
    """Checks the postcode's format only; the address itself is not looked up anywhere."""

    source = "postcode_format"

    def verify(self, address: AddressInput) -> VerificationResult:
        fields = {"line_1": address.line_1, "line_2": address.line_2, "town": address.town}
        try:
            postcode = normalise_postcode(address.postcode)
        except InvalidPostcode as error:
            return VerificationResult(
                verified=False,
                source=self.source,
                postcode=address.postcode,
                address=fields,
                detail=str(error),
            )
        return VerificationResult(
            verified=True,
            source=self.source,
            postcode=postcode,
            address={**fields, "postcode": postcode},
            detail="The postcode is a valid UK postcode; the address was not looked up.",
        )


class AFDVerifier:
    """An AFD-style address lookup over HTTPS.

    Request: ``GET <AFD_API_URL>?postcode=<postcode>&property=<line 1>`` with the key in the
    ``Authorization: Bearer`` header (never in the URL, which ends up in logs).
    Response (AFD Evolution's JSON shape): ``{"Result": <n>, "Item": [{"Postcode": ...,
    "Property": ..., "Street": ..., "Town": ...}, ...]}``; ``Result`` > 0 with at least one
    item means found. A contract with a different shape overrides ``build_request`` and
    ``parse_response`` only."""

    source = "afd"

    def __init__(self) -> None:
        self.url: str = getattr(settings, "AFD_API_URL", "")
        self.key: str = getattr(settings, "AFD_API_KEY", "")
        self.timeout: float = float(getattr(settings, "AFD_TIMEOUT", 3.0))
        if not self.url or not self.key:
            raise ImproperlyConfigured("AFDVerifier needs AFD_API_URL and AFD_API_KEY.")
        if urllib.parse.urlsplit(self.url).scheme != "https":
            raise ImproperlyConfigured("AFD_API_URL must be an https:// URL.")
        self.fallback = PostcodeFormatVerifier()

    def build_request(self, address: AddressInput) -> urllib.request.Request:
        query = urllib.parse.urlencode({"postcode": address.postcode, "property": address.line_1})
        separator = "&" if "?" in self.url else "?"
        return urllib.request.Request(  # noqa: S310 - the scheme is checked to be https above
            f"{self.url}{separator}{query}",
            headers={"Authorization": f"Bearer {self.key}", "Accept": "application/json"},
        )

    def parse_response(self, address: AddressInput, payload: dict[str, Any]) -> VerificationResult:
        items = payload.get("Item") or []
        try:
            found = int(payload.get("Result", 0)) > 0 and bool(items)
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"unexpected Result {payload.get('Result')!r}") from error
        if not found:
            return VerificationResult(
                verified=False,
                source=self.source,
                postcode=address.postcode,
                detail="AFD found no address matching this postcode and first line.",
                response=payload,
            )
        item = items[0] if isinstance(items, list) else items
        if not isinstance(item, dict):
            raise ValueError("the address found is not a JSON object")
        postcode = str(item.get("Postcode") or address.postcode)
        try:
            postcode = normalise_postcode(postcode)
        except InvalidPostcode:
            postcode = address.postcode
        return VerificationResult(
            verified=True,
            source=self.source,
            postcode=postcode,
            address={
                "line_1": " ".join(
                    str(part) for part in (item.get("Property"), item.get("Street")) if part
                ),
                "town": str(item.get("Town") or ""),
                "postcode": postcode,
            },
            detail="AFD found this address.",
            response=payload,
        )

    def verify(self, address: AddressInput) -> VerificationResult:
        try:
            with urllib.request.urlopen(  # noqa: S310 - https only, see __init__
                self.build_request(address), timeout=self.timeout
            ) as response:
                payload = json.loads(
                    response.read(64 * 1024).decode("utf-8"), parse_constant=_not_a_number
                )
            if not isinstance(payload, dict):
                raise ValueError("the answer is not a JSON object")
            # Kept as the check's record: PostgreSQL's jsonb takes no NUL character.
            if _holds_nul(payload):
                raise ValueError("the answer holds a NUL character")
            return self.parse_response(address, payload)
        except TimeoutError:
            reason = f"did not answer within {self.timeout:g} seconds"
        except urllib.error.HTTPError as error:
            reason = f"answered HTTP {error.code}"
        except urllib.error.URLError as error:
            reason = (
                f"did not answer within {self.timeout:g} seconds"
                if isinstance(error.reason, TimeoutError)
                else "could not be reached"
            )
        # JSONDecodeError and UnicodeError are ValueErrors; an answer nested too deep to
        # read is a RecursionError.
        except (OSError, ValueError, RecursionError) as error:
            reason = f"gave an answer we could not read ({type(error).__name__})"
        logger.warning("AFD address verification failed: %s", reason)
        checked = self.fallback.verify(address)
        return VerificationResult(
            verified=checked.verified,
            source=checked.source,
            postcode=checked.postcode,
            address=checked.address,
            detail=f"AFD {reason}; only the postcode format was checked. {checked.detail}",
            response={"fallback_from": self.source, "error": reason},
        )


def get_verifier() -> AddressVerifier:
    """A new instance of the class ``settings.ADDRESS_VERIFIER`` names (read at each call, so
    a settings override in tests or a deployment's choice takes effect without a restart)."""
    path = getattr(settings, "ADDRESS_VERIFIER", "") or DEFAULT_VERIFIER
    try:
        verifier_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"ADDRESS_VERIFIER {path!r} cannot be imported.") from error
    return verifier_class()


def _not_a_number(constant: str) -> float:
    """``json.loads`` reads NaN and Infinity, which are not JSON (and not storable as jsonb)."""
    raise ValueError(f"the answer holds {constant}, which is not JSON")


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
