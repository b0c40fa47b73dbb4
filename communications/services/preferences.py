"""Consent changes that email someone: the decision and its email commit together.

These span the consent app (the decision) and this one (the email), so they live here, the
higher of the two: a preference change writes its ledger rows and its receipt's delivery row
in one transaction, and a newsletter request writes its confirmation's delivery row. If the
transaction rolls back, neither happens; if the broker is down, the sweep relays the email.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from communications.gate import may_send
from communications.kinds import MessageKind
from communications.models import Delivery
from consent.models import ConsentEvent, Purpose
from consent.provenance import NO_PROVENANCE, Provenance
from consent.services import (
    ConsentError,
    ConsentSource,
    confirm_newsletter_subscription,
    newsletter_address,
    record_decisions,
    request_newsletter_subscription,
    withdraw_all_marketing,
)
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff

from .outbox import enqueue_email


def send_consent_receipt(*, subject: AuthUser, events: Sequence[ConsentEvent]) -> Delivery | None:
    """A receipt listing what just changed, under which policy version, when and how."""
    if not events:
        return None
    first = events[0]
    occurred = timezone.localtime(first.occurred_at)
    context = {
        "changes": [
            {"purpose": event.purpose.name, "code": event.purpose.code, "granted": event.granted}
            for event in events
        ],
        "policy_version": first.policy_version.number,
        "occurred_at": date_format(occurred, "j F Y, H:i"),
        "source": first.get_source_display(),
    }
    return enqueue_email(kind=MessageKind.CONSENT_RECEIPT, user=subject, context=context)


@transaction.atomic
def save_preferences(
    *,
    subject: AuthUser,
    choices: Mapping[str, bool],
    source: str,
    provenance: Provenance,
    actor: AuthUser | None = None,
) -> list[ConsentEvent]:
    """Record the choices; if anything changed, the receipt goes in the same transaction."""
    changed = record_decisions(
        subject=subject, choices=choices, source=source, provenance=provenance, actor=actor
    )
    send_consent_receipt(subject=subject, events=changed)
    return changed


# "Can add consent event": recording a decision on a customer's behalf (Customer Support).
RECORD_FOR_CUSTOMER = "consent.add_consentevent"


@transaction.atomic
def record_preferences_for_customer(
    *, subject: AuthUser, choices: Mapping[str, bool], actor: AuthUser
) -> list[ConsentEvent]:
    """A member of staff records what a customer asked for (on the phone, by email): on the
    ledger with source ``staff`` and ``actor`` as the one who recorded it, and the customer
    gets the same receipt as from the preference centre, so they see what was done in their
    name. Refused (``ConsentError``, nothing recorded) to anyone without
    ``consent.add_consentevent``, and for a closed account."""
    if not is_active_staff(actor, RECORD_FOR_CUSTOMER):
        raise ConsentError(
            "Only a member of staff allowed to record preferences for customers may do that."
        )
    if not subject.is_active:
        raise ConsentError("This account is closed: it has no preferences to change.")
    return save_preferences(
        subject=subject,
        choices=choices,
        source=ConsentSource.STAFF,
        provenance=NO_PROVENANCE,
        actor=actor,
    )


@transaction.atomic
def withdraw_all_with_receipt(
    *, subject: AuthUser, source: str, provenance: Provenance
) -> list[ConsentEvent]:
    changed = withdraw_all_marketing(subject=subject, source=source, provenance=provenance)
    send_consent_receipt(subject=subject, events=changed)
    return changed


@transaction.atomic
def request_newsletter(
    *,
    email: str,
    first_name: str,
    last_name: str = "",
    provenance: Provenance,
    confirm_url: Callable[[str], str],
    client: str | None = None,
) -> Delivery | None:
    """Email the double opt-in link, unless the consent app's limits say no email may go
    (then None, and the caller answers exactly as if it had gone). ``client`` is the caller's
    IP address; ``TooManyNewsletterRequests`` when it asked too often. ``confirm_url`` makes
    the confirmation page's absolute URL from the link's token.

    Nothing about the person is stored beyond the outbox row that carries the email, and that
    row forgets the address once the email has gone. The email does not repeat the names
    typed into the form: whoever typed them may not be the owner of the mailbox.
    """
    link = request_newsletter_subscription(
        email=email,
        first_name=first_name,
        last_name=last_name,
        provenance=provenance,
        confirm_url=confirm_url,
        client=client,
        held_back=_awaiting_verification,
    )
    if link is None:
        return None
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER)
    return enqueue_email(
        kind=MessageKind.OPT_IN_CONFIRMATION,
        to_email=newsletter_address(email),
        context={
            "confirm_url": link,
            "wording": newsletter.wording,
            "valid_days": max(1, settings.NEWSLETTER_CONFIRMATION_MAX_AGE // 86400),
        },
    )


def _awaiting_verification(subject_id: int) -> bool:
    """Whether the newsletter is held back from this subscriber because their address was
    never proved (the gate's rule 4): then a newsletter request sends them the link."""
    subscriber = get_user_model().objects.get(pk=subject_id)
    decision = may_send(MessageKind.NEWSLETTER, subscriber)
    return decision.status == Delivery.Status.SKIPPED_UNVERIFIED


@transaction.atomic
def confirm_newsletter(*, token: str, provenance: Provenance) -> AuthUser:
    """Subscribe the person the link names, with a receipt. ``NewsletterAlreadyConfirmed``
    (nothing changed) when the link was used before."""
    confirmation = confirm_newsletter_subscription(token=token, provenance=provenance)
    send_consent_receipt(subject=confirmation.subscriber, events=[confirmation.event])
    return confirmation.subscriber
