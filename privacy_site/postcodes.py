"""The UK postcode format (BS 7666), for every app that takes a postal address.

Any app may import this module; it imports nothing from the apps.
"""

from __future__ import annotations

import re

# Outward code, then inward code "9AA". Letters that are never used in a position (Q, V, X
# first; I, J, Z second; ...) are refused. GIR 0AA is Girobank's.
_OUTWARD = r"[A-PR-UWYZ](?:[0-9][0-9A-HJKPS-UW]?|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?)"
_INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
POSTCODE_RE = re.compile(rf"^(?:(?P<out>{_OUTWARD})(?P<in>{_INWARD})|(?P<gir>GIR0AA))$")
INVALID_POSTCODE = "Enter a UK postcode, like SW1A 1AA."


def uk_postcode(value: str) -> str | None:
    """``" sw1a1aa "`` -> ``"SW1A 1AA"`` (upper case, one space before the inward code);
    None for anything that is not a UK postcode."""
    compact = re.sub(r"\s+", "", value or "").upper()
    if not POSTCODE_RE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


_DISTRICT_RE = re.compile(rf"^{_OUTWARD}$")


def uk_postcode_district(value: str) -> str | None:
    """The postcode district (the outward code: ``" ls1 "`` -> ``"LS1"``) of a district or of
    a full postcode; None for anything that is neither."""
    compact = re.sub(r"\s+", "", value or "").upper()
    if _DISTRICT_RE.match(compact):
        return compact
    full = uk_postcode(compact)
    return full.split(" ")[0] if full else None
