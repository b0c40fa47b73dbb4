"""What the apps share for a person's data rights (a copy of everything, erasure).

Every app below accounts takes part through its ``privacy`` module: ``export_for_user(user)``
returns its section of the person's copy, ``erase_for_user(user)`` erases what it holds, and
``KEPT_ON_ERASURE`` says what it must keep and why. The copy is gathered by
``accounts.selectors.export_personal_data``; erasure is ``accounts.services.privacy``'s.
"""

from __future__ import annotations

from types import ModuleType

import communications.privacy
import consent.privacy
import sharing.privacy
import staff_access.privacy
import surveys.privacy

# Lower apps, in the order their sections appear in a copy.
SECTIONS: list[tuple[str, ModuleType]] = [
    ("consent", consent.privacy),
    ("emails", communications.privacy),
    ("third_parties", sharing.privacy),
    ("surveys", surveys.privacy),
    ("staff_access", staff_access.privacy),
]

ACCOUNTS_KEPT = [
    {
        "what": "An account number with no name, address or password, which the records "
        "above point to",
        "why": "So those records still hang together without saying who you are.",
    },
    {
        "what": "The list of changes made to your details (which detail, when, and by whom), "
        "with the old and new values removed",
        "why": "To show that changes to personal data were made by you or authorised staff.",
    },
    {
        "what": "The record of this request (when you asked and when we erased your data)",
        "why": "To show that we carried out your request, as data-protection law requires us "
        "to be able to.",
    },
]


class PrivacyError(ValueError):
    """A step that cannot be taken: the message says why, for the person or staff."""


def kept_on_erasure() -> list[dict[str, str]]:
    """What erasure keeps, and why: said to the person before, and recorded after."""
    kept = []
    for _, module in SECTIONS:
        kept.extend(module.KEPT_ON_ERASURE)
    return [*kept, *ACCOUNTS_KEPT]
