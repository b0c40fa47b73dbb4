"""Email addresses as the suppression list keeps them: a hash, never the address itself."""

from __future__ import annotations

import hashlib
import re

from privacy_site.masking import mask_address

# A fixed prefix, not the SECRET_KEY: rotating the key must not empty the suppression list.
_PREFIX = b"privacy-site.suppression.v1:"


def normalise_address(address: str) -> str:
    return address.strip().lower()


def address_hash(address: str) -> str:
    """The SHA-256 of the normalised address: the same for every spelling of its case."""
    return hashlib.sha256(_PREFIX + normalise_address(address).encode()).hexdigest()


_ADDRESS_IN_TEXT = re.compile(r"[^\s<>\"'(),;:\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def mask_addresses_in(text: str | None) -> str:
    """Free text (a provider's error, a bounce message) with every address in it masked
    (``550 <j***@example.com> ...``), so diagnostics can be kept and shown without the address."""
    return _ADDRESS_IN_TEXT.sub(lambda match: mask_address(match.group(0)), text or "")
