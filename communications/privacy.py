"""What the communications app holds about a person, for their copy (``export_for_user``)
and for erasure (``erase_for_user``).

Erasure keeps each delivery row (kind, campaign, dates, status) with the address and the
message's context removed, and puts the address on the suppression list as a hash, so that
it is never emailed again even if it comes back in an import.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communications.models import Delivery, ProviderEvent, Referral, Suppression
from communications.selectors import emails_sent_to, provider_reports_for, suppression_of
from communications.services.suppression import suppress_address
from privacy_site.auth_user import AuthUser
from retention.selectors import kept_until

Status = Delivery.Status


# What erasure keeps, and why (said to the person before, recorded after).
KEPT_ON_ERASURE = [
    {
        "what": "A list of the emails we sent you (kind, date and outcome), without your "
        "address or the emails' contents",
        "why": "To show which emails went out under which consent, and to answer "
        "complaints about them.",
    },
    {
        "what": "A count of the wishlists you sent to friends (when, and what became of "
        "each), no longer linked to you",
        "why": "To measure our referral programme, as our privacy policy says; nothing "
        "about the friends was ever kept.",
    },
    {
        "what": "A one-way hash of your email address on our do-not-email list",
        "why": "So that the address is never emailed again, even if it reaches us again "
        "from another source (UK GDPR Article 21(3)).",
    },
]


def how_long_we_keep() -> dict[str, str]:
    """How long each part of this section is kept, for the person's copy."""
    return {
        "emails": "Each email's address, personalised content and error text: "
        + kept_until("delivery_content")
        + " Which email it was, when and its outcome are kept as proof of what we sent.",
        "provider_reports": kept_until("provider_events"),
        "wishlists_sent_to_friends": "The link code of each wishlist and that you sent it: "
        + kept_until("referral_tokens"),
        "do_not_email": "Kept for as long as we keep any list of addresses, so that the "
        "address is never emailed again.",
    }


def _when(value) -> str | None:
    return value.isoformat() if value else None


def export_for_user(user: AuthUser) -> dict:
    """The emails section of the person's copy: every email, the provider's reports on them,
    and whether the address is on the do-not-email list."""
    suppression = suppression_of(email=user.email)
    return {
        "emails": [
            {
                "kind": delivery.get_kind_display(),
                "subject": delivery.campaign.subject_line if delivery.campaign is not None else "",
                "written": _when(delivery.created_at),
                "sent": _when(delivery.sent_at),
                "status": delivery.get_status_display(),
                "unsubscribed_from_it": _when(delivery.unsubscribed_at),
            }
            for delivery in emails_sent_to(user=user)
        ],
        "provider_reports": [
            {
                "event": event.event_type,
                "when": _when(event.occurred_at or event.received_at),
                "provider": event.esp_name,
            }
            for event in provider_reports_for(user=user)
        ],
        # Only what the sender did: nothing about the friends exists.
        "wishlists_sent_to_friends": [
            {"asked": _when(referral.created_at), "status": referral.get_status_display()}
            for referral in Referral.objects.filter(sender=user).order_by("created_at")
        ],
        "do_not_email": (
            {"since": _when(suppression.created_at), "reason": suppression.get_reason_display()}
            if suppression
            else None
        ),
    }


@transaction.atomic
def erase_for_user(user: AuthUser) -> None:
    """Before the account's own data goes: its addresses (every one it ever verified or
    added) are read here, so ``accounts`` erases after this."""
    now = timezone.now()
    Referral.objects.filter(sender=user).update(sender=None)
    rows = Delivery.objects.filter(user=user)
    rows.filter(status=Status.QUEUED).update(
        status=Status.CANCELLED, last_error="account erased", updated_at=now
    )
    rows.filter(~Q(to_email="") | ~Q(context={})).update(to_email="", context={}, updated_at=now)
    ProviderEvent.objects.filter(delivery__user=user).exclude(recipient="", description="").update(
        recipient="", description=""
    )
    addresses = {user.email.lower()} | {
        address.lower()
        for address in EmailAddress.objects.filter(user=user).values_list("email", flat=True)
    }
    for address in addresses:
        suppress_address(address, reason=Suppression.Reason.ERASURE)
