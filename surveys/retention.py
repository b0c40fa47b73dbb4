"""The surveys app's handler for the retention schedule (``retention.schedule``): entries past
their survey's stated period are anonymised exactly as erasure anonymises them."""

from __future__ import annotations

from surveys.privacy import anonymise_entries


def forget_entries(pks: list[int]) -> int:
    return anonymise_entries(entry_ids=pks)
