"""What the staff access record holds about a person: each time staff looked at or changed
their data, for their copy (``export_for_user``: when, in which role, what they did and which
kinds of data; never the staff member's name) and for erasure (``erase_for_user``: what staff
typed into a search is emptied; the rest is kept as proof)."""

from __future__ import annotations

from typing import Any

from privacy_site.auth_user import AuthUser
from staff_access.selectors import staff_accesses_for
from staff_access.services import blank_search_terms_naming

KEPT_ON_ERASURE = [
    {
        "what": "The record of each time our staff looked at or changed your data: when, in "
        "which role and which kinds of data, with anything they typed into a search removed",
        "why": "To show that only staff who needed your data for their job had access to it, "
        "as our privacy policy promises.",
    },
]


def how_long_we_keep() -> dict[str, str]:
    """How long each part of this section is kept, for the person's copy."""
    kept = (
        "Kept as the record that only staff who needed your data saw it; not deleted on a "
        "schedule. What staff searched for is removed when your account is erased."
    )
    return {"times_accessed": kept, "accesses": kept}


def export_for_user(user: AuthUser) -> dict[str, Any]:
    accesses = staff_accesses_for(subject=user)
    return {
        "times_accessed": len(accesses),
        "accesses": [
            {
                "when": access.occurred_at.isoformat(),
                "role": access.role,
                "what": access.action,
                "data": ", ".join(access.fields),
            }
            for access in accesses
        ],
    }


def erase_for_user(user: AuthUser) -> None:
    blank_search_terms_naming(subject=user)
