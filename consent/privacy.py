"""What the consent app holds about a person, for their copy (``export_for_user``) and for
erasure (``erase_for_user``).

The ledger is kept on erasure: it is the proof of what the person agreed to, when, and under
which words (UK GDPR Art. 7(1)). Erasure records a final withdrawal of every purpose and
removes the network details (IP prefix, browser) from the person's rows; the rows then point
at an account that no longer holds a name or an address.
"""

from __future__ import annotations

from django.db import transaction

from consent.models import ConsentEvent, ConsentSource, CookieConsent
from consent.selectors import consent_history_for, cookie_history_for, current_consent_for
from consent.services.ledger import withdraw_all_marketing
from privacy_site.auth_user import AuthUser
from retention.selectors import kept_until

# What erasure keeps, and why (said to the person before, recorded after).
KEPT_ON_ERASURE = [
    {
        "what": "The record of your consent choices (which purpose, granted or withdrawn, "
        "when, and the policy wording you were shown), ending with the withdrawal of every "
        "purpose on erasure; no longer linked to your name or address",
        "why": "We must be able to prove the consent we relied on when we wrote to you "
        "(UK GDPR Article 7(1)).",
    }
]


def how_long_we_keep() -> dict[str, str]:
    """How long each part of this section is kept, for the person's copy."""
    return {
        "current_choices": "Kept while your account is open: these are the choices we act on.",
        "consent_history": "Each decision is kept as proof of the consent we relied on, also "
        "after your account is erased (then no longer linked to your name). The network "
        "address prefix and browser name recorded with a decision: "
        + kept_until("ledger_network_details"),
        "cookie_choices": kept_until("cookie_choices"),
    }


def _when(value) -> str | None:
    return value.isoformat() if value else None


def export_for_user(user: AuthUser) -> dict:
    """The consent section of the person's copy: choices in force, every decision, cookie
    choices."""
    return {
        "current_choices": [
            {
                "purpose": row.purpose.name,
                "granted": row.granted,
                "legal_basis": row.get_legal_basis_display(),
                "since": _when(row.event.occurred_at),
                "policy_version": row.event.policy_version.number,
            }
            for row in current_consent_for(subject=user)
        ],
        "consent_history": [
            {
                "purpose": event.purpose.name,
                "decision": "granted" if event.granted else "withdrawn",
                "legal_basis": event.get_legal_basis_display(),
                "how": event.get_source_display(),
                "when": _when(event.occurred_at),
                "policy_version": event.policy_version.number,
                "policy_version_date": event.policy_version.effective_date.isoformat(),
                "wording_shown": event.wording,
                "recorded_by_staff": event.actor_id is not None and event.actor_id != user.pk,
                "ip_address_prefix": event.ip_address,
                "browser": event.user_agent,
            }
            for event in consent_history_for(subject=user)
        ],
        "cookie_choices": [
            {
                "when": _when(choice.created_at),
                "analytics": choice.analytics,
                "marketing": choice.marketing,
                "global_privacy_control_honoured": choice.gpc_honoured,
                "policy_version": choice.policy_version.number,
                "ip_address_prefix": choice.ip_address,
                "browser": choice.user_agent,
            }
            for choice in cookie_history_for(user=user)
        ],
    }


@transaction.atomic
def erase_for_user(user: AuthUser) -> None:
    withdraw_all_marketing(subject=user, source=ConsentSource.ERASURE)
    # The triggers let exactly this update through (migration 0006).
    ConsentEvent.objects.filter(subject=user).exclude(ip_address=None, user_agent="").update(
        ip_address=None, user_agent=""
    )
    CookieConsent.objects.filter(user=user).exclude(ip_address=None, user_agent="").update(
        ip_address=None, user_agent=""
    )
