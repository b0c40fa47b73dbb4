"""Reads of the communications app that are more than a one-model filter."""

from __future__ import annotations

from django.db.models import QuerySet

from communications.models import Campaign, Delivery


def deliveries_for(*, campaign: Campaign, status: str | None = None) -> QuerySet[Delivery]:
    """A campaign's delivery rows, optionally of one status, with their recipients."""
    rows = Delivery.objects.filter(campaign=campaign).select_related("user")
    return rows.filter(status=status) if status else rows
