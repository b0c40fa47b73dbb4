"""Helpers for tests that send campaigns through a real worker."""

from __future__ import annotations

import time

from communications.models import Campaign
from communications.services import campaign_progress


class HeldTask:
    """Stands in for a task while a test holds its relay back: records the arguments of
    each ``delay`` call, for the test to enqueue later (or never)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def delay(self, *args, **kwargs) -> None:
        self.calls.append(args)


def wait_until_completed(campaign: Campaign, *, timeout: float = 20) -> Campaign:
    """``campaign``, refreshed, once the worker has completed it; fails with its progress
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status == Campaign.Status.COMPLETED:
            return campaign
        time.sleep(0.05)
    raise AssertionError(
        f"campaign still {campaign.status} after {timeout}s: {campaign_progress(campaign=campaign)}"
    )
