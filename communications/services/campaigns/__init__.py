"""Campaigns: written and checked by staff, then sent in batches by Celery workers.

Life of a send: ``send_campaign_now`` (or the schedule) moves the campaign to *sending*
(``lifecycle``) and starts ``populate_campaign`` (``audience``), which walks the audience in
keyset chunks, writes one queued delivery row per recipient and enqueues a batch task per
``EMAIL_BATCH_SIZE`` rows. Each ``send_campaign_batch`` (``batches``) claims, checks, sends and
records a batch. The scheduled jobs (``sweeps``) start campaigns whose time has come and
restart the ones that stopped moving. What a campaign's rows add up to is read by
``communications.selectors``.

Import from the module that does the step; the names below are here for callers that knew
this package as one module.
"""

from communications.selectors import describe_recipient

from .audience import populate_campaign
from .batches import complete_if_done, send_campaign_batch
from .lifecycle import (
    EDITABLE,
    SEGMENT_KEYS,
    CampaignError,
    cancel_campaign,
    create_campaign,
    pause_campaign,
    preview_campaign,
    resume_campaign,
    schedule_campaign,
    send_campaign_now,
    send_campaign_test,
    update_campaign,
    validate_segment,
)
from .sweeps import run_due_campaigns, sweep_campaigns

__all__ = [
    "EDITABLE",
    "SEGMENT_KEYS",
    "CampaignError",
    "cancel_campaign",
    "complete_if_done",
    "create_campaign",
    "describe_recipient",
    "pause_campaign",
    "populate_campaign",
    "preview_campaign",
    "resume_campaign",
    "run_due_campaigns",
    "schedule_campaign",
    "send_campaign_batch",
    "send_campaign_now",
    "send_campaign_test",
    "sweep_campaigns",
    "update_campaign",
    "validate_segment",
]
