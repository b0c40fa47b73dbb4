"""The campaigns' scheduled jobs: start the ones whose time has come, and restart the ones
that stopped moving.

A worker killed mid-batch leaves at most the row it was handing over uncertain: the sweep
resolves its claim once its database session has ended, puts its other rows back in the
queue and restarts the campaign.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from communications.models import Campaign
from communications.services.abandoned_claims import resolve_abandoned_claims

from .batches import complete_if_done, restart_sending
from .lifecycle import start_sending

logger = logging.getLogger(__name__)

CampaignStatus = Campaign.Status


def run_due_campaigns() -> list[int]:
    """Start every scheduled campaign whose time has come; returns their ids."""
    started = []
    due = Campaign.objects.filter(
        status=CampaignStatus.SCHEDULED, send_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    for campaign_id in list(due):
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(pk=campaign_id, status=CampaignStatus.SCHEDULED)
                .first()
            )
            if campaign is None:
                continue
            start_sending(campaign)
            started.append(campaign_id)
    return started


def sweep_campaigns() -> list[int]:
    """Resolve claims whose worker is gone, then restart sending campaigns that stopped
    moving (their tasks lost with a broker or a killed worker, or rows just put back from an
    abandoned claim); complete the ones with nothing left. Returns the restarted ids."""
    released = set(resolve_abandoned_claims()["campaigns"])
    stalled_before = timezone.now() - timedelta(seconds=settings.EMAIL_CAMPAIGN_STALL_AFTER)
    restarted = []
    for campaign_id in Campaign.objects.filter(status=CampaignStatus.SENDING).values_list(
        "pk", flat=True
    ):
        if complete_if_done(campaign_id=campaign_id):
            continue
        moved = Campaign.objects.filter(pk=campaign_id, last_batch_at__gte=stalled_before)
        if campaign_id not in released and moved.exists():
            continue
        Campaign.objects.filter(pk=campaign_id).update(last_batch_at=timezone.now())
        restart_sending(campaign_id)
        restarted.append(campaign_id)
    if restarted:
        logger.warning("restarted stalled campaigns %s", restarted)
    return restarted
