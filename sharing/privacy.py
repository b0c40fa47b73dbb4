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
from sharing import customer_records
from sharing.models import DataCategory, Disclosure, LegalBasis
from sharing.notification_models import RecipientNotification
from sharing.selectors import disclosures_for
from sharing.services.notifications import notify_recipients_of_erasure

# What erasure keeps, and why (said to the person before, recorded after).
KEPT_ON_ERASURE = [
    {
        "what": "The record of which organisations received which kinds of your data, when, "
        "why and on what legal basis; no longer linked to your name, address or orders "
        "(the court order or legal request is kept with a disclosure the law required)",
        "why": "We must be able to show that each disclosure was lawful (UK GDPR Article "
        "5(2)) and tell those organisations that your data has been erased (Article 19).",
    },
    {
        "what": "Our notice to each of those organisations that your data has been erased, "
        "with their own order or request references for you until they have been told "
        "(and 30 days after, in case the notice goes astray)",
        "why": "So that each of them can find and erase what we gave them, and we can show "
        "we told them (UK GDPR Article 19).",
    },
    *customer_records.KEPT_ON_ERASURE,
]


def _when(value) -> str | None:
    return value.isoformat() if value else None


def how_long_we_keep() -> dict[str, str]:
    """How long each part of this section is kept, for the person's copy."""
    return {
        "notices_to_recipients": "Kept as proof that each organisation was told; not "
        "deleted on a schedule.",
        "disclosures": "Kept as the record that each disclosure was lawful (UK GDPR Article "
        "30), also after your account is erased; not deleted on a schedule. How long each "
        "organisation keeps what it received is under how_long_they_keep_it.",
        "orders": "Kept as our sales records; the delivery name and address are removed "
        "when your account is erased.",
        "jessops_photo": "Kept while your account is open, as proof that CEWE received your "
        "details because you asked, and was told when you left.",
    }


def export_for_user(user: AuthUser) -> dict:
    """The disclosures of the person's data, and the notices to their recipients of the
    person's corrections (UK GDPR Article 19: the person may ask who was told)."""
    notices = (
        RecipientNotification.objects.filter(person_id=user.pk)
        .select_related("party")
        .order_by("-occurred_at", "party__name", "id")
    )
    return {
        "notices_to_recipients": [
            {
                "recipient": notice.party.name,
                "about": notice.get_event_display(),
                "what": [dict(DataCategory.choices)[value] for value in notice.categories],
                "when": _when(notice.occurred_at),
                "state": notice.get_state_display(),
                "told_on": _when(notice.notified_at),
            }
            for notice in notices
        ],
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
        ],
        **customer_records.export_orders_and_memberships(user),
    }


@transaction.atomic
def erase_for_user(user: AuthUser) -> None:
    """Tell every recipient of the person's data (Article 19), then empty the references."""
    # The notices read each party's references before they are emptied, in this transaction.
    notices = notify_recipients_of_erasure(person=user)
    # The trigger lets exactly this update through (migration 0002).
    Disclosure.objects.filter(person_id=user.pk).exclude(
        legal_basis=LegalBasis.LEGAL_OBLIGATION
    ).exclude(reference="").update(reference="")

    # An open Jessops Photo membership ends here, told by CEWE's erasure notice.
    customer_records.erase_orders_and_memberships(user, erasure_notices=notices)
