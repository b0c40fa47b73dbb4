"""Joining and leaving Jessops Photo, the online printing service CEWE provides (the policy's
"Jessops Photo" clause: "When the user signs up for these particular services, we share
names, or other contact information that is necessary for the third party to provide these
services").

Joining gives CEWE the person's name and email address, logged as a disclosure on the basis
of the contract (the person asked for the service), made by the person themselves. Leaving
ends the membership and marks CEWE to be told; staff record when it was. Partner marketing
from us ("Jessops Photo offers") is a consent purpose of its own: joining neither grants nor
needs it, and CEWE's own emails are managed on the Jessops Photo website.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff
from sharing.models import DataCategory, DisclosurePurpose, LegalBasis, ThirdParty
from sharing.photo_models import LeaveNotice, LeftBecause, PhotoServiceMembership

from .disclosures import DisclosureRefused, record_disclosure

# The party providing the service: the register's entry, seeded from the policy.
PHOTO_PARTY = "CEWE (Jessops Photo)"
# What joining gives CEWE: what it needs to open the person's Jessops Photo account.
JOINING_CATEGORIES = [DataCategory.NAME, DataCategory.EMAIL]
RECORD_NOTICE = "sharing.record_photo_leave_notice"


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
def leave_photo_service(
    *, person: AuthUser, because: str = LeftBecause.LEFT
) -> PhotoServiceMembership:
    """End ``person``'s membership; CEWE is to be told (``leave_notice`` "to notify").
    Raises ``PhotoServiceError`` if they are not a member."""
    locked = _lock(person)
    membership = open_membership(person=locked)
    if membership is None:
        raise PhotoServiceError("You are not a member of Jessops Photo.")
    membership.left_at = timezone.now()
    membership.left_because = because
    membership.leave_notice = LeaveNotice.TO_NOTIFY
    membership.save(update_fields=["left_at", "left_because", "leave_notice"])
    return membership


@transaction.atomic
def record_leave_notified(
    *, membership: PhotoServiceMembership, actor: AuthUser, detail: str
) -> PhotoServiceMembership:
    """Staff record that CEWE was told the person left (how: ``detail``). Needs
    ``sharing.record_photo_leave_notice``. Raises ``PhotoServiceError`` (nothing written)."""
    if not is_active_staff(actor, RECORD_NOTICE):
        raise PhotoServiceError("Only staff allowed to record notices to CEWE may do this.")
    detail = detail.strip()
    if not detail:
        raise PhotoServiceError("Say how CEWE was told (email, their portal, post...).")
    locked = PhotoServiceMembership.objects.select_for_update().get(pk=membership.pk)
    if locked.leave_notice != LeaveNotice.TO_NOTIFY:
        raise PhotoServiceError("CEWE has no notice to be given about this membership.")
    locked.leave_notice = LeaveNotice.NOTIFIED
    locked.notified_at = timezone.now()
    locked.notified_by = actor
    locked.notice_detail = detail[:300]
    locked.save(update_fields=["leave_notice", "notified_at", "notified_by", "notice_detail"])
    return locked
