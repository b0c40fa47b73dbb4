"""Joining and leaving Jessops Photo, the online printing service CEWE provides (the policy's
"Jessops Photo" clause: "When the user signs up for these particular services, we share
names, or other contact information that is necessary for the third party to provide these
services").

Joining gives CEWE the person's name and email address, logged as a disclosure on the basis
of the contract (the person asked for the service), made by the person themselves. Leaving
ends the membership and writes the notice that tells CEWE (``RecipientNotification``, sent by
a worker to CEWE's notification address or endpoint, or given by staff where the register has
neither). Erasure ends it too, and CEWE's erasure notice is the one that tells it. Partner marketing
from us ("Jessops Photo offers") is a consent purpose of its own: joining neither grants nor
needs it, and CEWE's own emails are managed on the Jessops Photo website.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from sharing.models import DataCategory, DisclosurePurpose, LegalBasis, ThirdParty
from sharing.notification_models import RecipientNotification
from sharing.photo_models import LeftBecause, PhotoServiceMembership

from .disclosures import DisclosureRefused, record_disclosure
from .notifications.creating import notify_party_of_leaving

# The party providing the service: the register's entry, seeded from the policy.
PHOTO_PARTY = "CEWE (Jessops Photo)"
# What joining gives CEWE: what it needs to open the person's Jessops Photo account.
JOINING_CATEGORIES = [DataCategory.NAME, DataCategory.EMAIL]


class PhotoServiceError(ValueError):
    """Joining or leaving can't be done; the message says why, for the person."""


def photo_party() -> ThirdParty | None:
    return ThirdParty.objects.filter(name=PHOTO_PARTY).first()


def open_membership(*, person: AuthUser) -> PhotoServiceMembership | None:
    return PhotoServiceMembership.objects.filter(person_id=person.pk, left_at__isnull=True).first()


def _lock(person: AuthUser) -> AuthUser:
    """The person's row, locked: joining and leaving for one person happen one at a time."""
    return get_user_model().objects.select_for_update().get(pk=person.pk)


@transaction.atomic
def join_photo_service(*, person: AuthUser) -> PhotoServiceMembership:
    """Make ``person`` a member and log what CEWE receives (name, email). Raises
    ``PhotoServiceError`` (nothing written) if they are a member already, have no name on
    their account, or the register refuses the disclosure."""
    locked = _lock(person)
    if open_membership(person=locked) is not None:
        raise PhotoServiceError("You are a member of Jessops Photo already.")
    if not (locked.first_name.strip() and locked.last_name.strip()):
        raise PhotoServiceError(
            "Jessops Photo needs your name: add your first and last name to your details first."
        )
    party = photo_party()
    if party is None:
        raise PhotoServiceError("Jessops Photo is not available at the moment.")
    now = timezone.now()
    try:
        membership = PhotoServiceMembership.objects.create(
            person=locked, party=party, joined_at=now
        )
    except IntegrityError as exc:  # the one-open-membership constraint: a double click
        raise PhotoServiceError("You are a member of Jessops Photo already.") from exc
    try:
        disclosure = record_disclosure(
            person=locked,
            party=party,
            categories=JOINING_CATEGORIES,
            purpose=DisclosurePurpose.PHOTO_SERVICE,
            legal_basis=LegalBasis.CONTRACT,
            reference=membership_reference(membership),
            actor=locked,
        )
    except DisclosureRefused as refusal:
        raise PhotoServiceError(
            "Jessops Photo is not available at the moment: we may not give CEWE your details."
        ) from refusal
    membership.disclosure = disclosure
    membership.save(update_fields=["disclosure"])
    return membership


def membership_reference(membership: PhotoServiceMembership) -> str:
    """The reference of the disclosure, and of the notice when the person leaves."""
    return f"Jessops Photo membership {membership.pk}"


@transaction.atomic
def leave_photo_service(*, person: AuthUser) -> PhotoServiceMembership:
    """End ``person``'s membership and write the notice that tells CEWE, under the
    membership's reference, that it no longer has a purpose for what it received (sent by a
    worker where the register has CEWE's address or endpoint, else *to notify* for staff).
    Raises ``PhotoServiceError`` if they are not a member."""
    locked = _lock(person)
    membership = open_membership(person=locked)
    if membership is None:
        raise PhotoServiceError("You are not a member of Jessops Photo.")
    now = timezone.now()
    received = membership.disclosure.categories if membership.disclosure else JOINING_CATEGORIES
    notice = notify_party_of_leaving(
        person=locked,
        party=membership.party,
        categories=received,
        reference=membership_reference(membership),
        occurred_at=now,
    )
    return _end(membership, at=now, because=LeftBecause.LEFT, notice=notice)


def _end(
    membership: PhotoServiceMembership,
    *,
    at: datetime,
    because: str,
    notice: RecipientNotification,
) -> PhotoServiceMembership:
    membership.left_at = at
    membership.left_because = because
    membership.leave_notification = notice
    membership.save(update_fields=["left_at", "left_because", "leave_notification"])
    return membership


@transaction.atomic
def end_memberships_on_erasure(
    *, person: AuthUser, erasure_notices: list[RecipientNotification]
) -> None:
    """In ``person``'s erasure, after ``notify_recipients_of_erasure`` wrote
    ``erasure_notices``: CEWE hears once, by its erasure notice (which carries the
    membership's reference and asks it to erase everything it received). An open membership
    ends because of the erasure, told by that notice; a membership whose notice of leaving
    was not yet given (the erasure superseded it) is told by it too. Nothing else is sent."""
    by_party = {notice.party_id: notice for notice in erasure_notices}
    now = timezone.now()
    open_one = open_membership(person=person)
    if open_one is not None:
        notice = by_party.get(open_one.party_id)
        if notice is None:  # no disclosure to the party on record: tell it all the same
            notice = notify_party_of_leaving(
                person=person,
                party=open_one.party,
                categories=JOINING_CATEGORIES,
                reference=membership_reference(open_one),
                occurred_at=now,
            )
        _end(open_one, at=now, because=LeftBecause.ERASURE, notice=notice)
    superseded = PhotoServiceMembership.objects.filter(
        person_id=person.pk, leave_notification__state=RecipientNotification.State.SUPERSEDED
    )
    for membership in superseded:
        if membership.party_id in by_party:
            membership.leave_notification = by_party[membership.party_id]
            membership.save(update_fields=["leave_notification"])
