"""What the sharing app holds about a person: the disclosures of their data to third parties,
for their copy (``export_for_user``) and for erasure (``erase_for_user``).

The log is kept on erasure: it is the proof that each disclosure was lawful, and it says which
organisations must be told of the erasure. Erasure empties the reference of each disclosure
(the order or request it was for, which could lead back to the person), except where the law
required the disclosure: that reference is what shows it was lawful. The rows then point at an
account that no longer holds a name or an address.
"""

from __future__ import annotations

from django.db import transaction

from privacy_site.auth_user import AuthUser
from sharing.models import Disclosure, LegalBasis
from sharing.selectors import disclosures_for

# What erasure keeps, and why (said to the person before, recorded after).
KEPT_ON_ERASURE = [
    {
        "what": "The record of which organisations received which kinds of your data, when, "
        "why and on what legal basis; no longer linked to your name, address or orders "
        "(the court order or legal request is kept with a disclosure the law required)",
        "why": "We must be able to show that each disclosure was lawful (UK GDPR Article "
        "5(2)) and tell those organisations that your data has been erased (Article 19).",
    }
]


def _when(value) -> str | None:
    return value.isoformat() if value else None


def export_for_user(user: AuthUser) -> dict:
    return {
        "disclosures": [
            {
                "recipient": disclosure.party.name,
                "recipient_role": disclosure.party.get_role_display(),
                "what": disclosure.category_labels(),
                "why": disclosure.get_purpose_display(),
                "legal_basis": disclosure.get_legal_basis_display(),
                "order_or_request": disclosure.reference,
                "when": _when(disclosure.occurred_at),
                "how_long_they_keep_it": disclosure.party.retention_promise,
            }
            for disclosure in disclosures_for(user=user)
        ]
    }


@transaction.atomic
def erase_for_user(user: AuthUser) -> None:
    """Anything that must tell recipients about the erasure reads the references first."""
    # The trigger lets exactly this update through (migration 0002).
    Disclosure.objects.filter(person_id=user.pk).exclude(
        legal_basis=LegalBasis.LEGAL_OBLIGATION
    ).exclude(reference="").update(reference="")
