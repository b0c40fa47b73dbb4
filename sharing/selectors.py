"""Reads of the sharing app that are more than a one-model filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from django.db.models import Prefetch, QuerySet

from consent.models import Purpose
from privacy_site.auth_user import AuthUser
from sharing.models import Disclosure, ThirdParty
from sharing.photo_models import PhotoServiceMembership


def disclosures_for(*, user: AuthUser) -> QuerySet[Disclosure]:
    """The disclosures of ``user``'s own data, and nobody else's: grouped by party (by name),
    newest first within each."""
    return (
        Disclosure.objects.filter(person_id=user.pk)
        .select_related("party")
        .order_by("party__name", "party_id", "-occurred_at", "-id")
    )


@dataclass(frozen=True)
class PartyDisclosures:
    """One recipient of a person's data and every disclosure to it, newest first."""

    party: ThirdParty
    disclosures: list[Disclosure]

    @property
    def latest(self) -> datetime:
        return self.disclosures[0].occurred_at


def disclosures_by_party(*, user: AuthUser) -> list[PartyDisclosures]:
    """``disclosures_for(user=...)`` grouped by recipient, in one query."""
    return [
        PartyDisclosures(party=rows[0].party, disclosures=rows)
        for rows in (
            list(group) for _, group in groupby(disclosures_for(user=user), lambda d: d.party_id)
        )
    ]


def register_parties() -> QuerySet[ThirdParty]:
    """Every party in the register, with its consent purposes, by name."""
    return ThirdParty.objects.prefetch_related(
        Prefetch("consent_purposes", queryset=Purpose.objects.order_by("display_order", "id"))
    ).order_by("name")


def photo_memberships_for(*, user: AuthUser) -> QuerySet[PhotoServiceMembership]:
    """``user``'s own Jessops Photo memberships, newest first, and nobody else's."""
    return (
        PhotoServiceMembership.objects.filter(person_id=user.pk)
        .select_related("leave_notification")
        .order_by("-joined_at", "-id")
    )
