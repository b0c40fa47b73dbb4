"""What the sharing app holds about a person: the disclosures of their data to third parties.

The disclosure log is not built yet, so there is nothing to export or erase; the section is
part of every export already so that its shape does not change when it is.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

KEPT_ON_ERASURE: list[dict[str, str]] = []


def export_for_user(user: AbstractBaseUser) -> dict:
    # Each disclosure: recipient, what was shared, why, when.
    return {"disclosures": []}


def erase_for_user(user: AbstractBaseUser) -> None:
    """Nothing held yet."""
