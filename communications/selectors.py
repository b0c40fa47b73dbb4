"""Reads of the communications app that are more than a one-model filter."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from communications.addresses import address_hash
from communications.models import Campaign, Delivery, ProviderEvent, Suppression


def deliveries_for(*, campaign: Campaign, status: str | None = None) -> QuerySet[Delivery]:
    """A campaign's delivery rows, optionally of one status, with their recipients."""
    rows = Delivery.objects.filter(campaign=campaign).select_related("user")
    return rows.filter(status=status) if status else rows


# --- What a person's copy of their data shows (communications.privacy) ------------------------


def emails_sent_to(*, user: AbstractBaseUser) -> QuerySet[Delivery]:
    """Every delivery row of ``user``, newest first, with its campaign."""
    return (
        Delivery.objects.filter(user=user).select_related("campaign").order_by("-created_at", "-id")
    )


def provider_reports_for(*, user: AbstractBaseUser) -> QuerySet[ProviderEvent]:
    """What the email provider reported about ``user``'s emails, newest first."""
    return ProviderEvent.objects.filter(delivery__user=user).order_by("-received_at", "-id")


def suppression_of(*, email: str) -> Suppression | None:
    """The do-not-email entry of an address, if it has one."""
    return Suppression.objects.filter(address_hash=address_hash(email)).first()
