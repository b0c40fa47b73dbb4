"""Every write of the communications app, each in the module named for what it does
(``campaigns.lifecycle``, ``outbox``, ``webhooks`` ...). The names below are re-exported for
callers that import them from here."""

from communications.selectors import campaign_progress

from .campaigns.audience import populate_campaign
from .campaigns.batches import complete_if_done, send_campaign_batch
from .campaigns.lifecycle import (
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
from .campaigns.sweeps import run_due_campaigns, sweep_campaigns
from .outbox import enqueue_email, send_delivery, sweep_outbox
from .provider_events import process_provider_event, process_waiting_provider_events
from .suppression import lift_suppression, suppress_address, suppress_address_hash
from .webhooks import record_provider_event, record_provider_events, requeue_provider_events

__all__ = [
    "CampaignError",
    "campaign_progress",
    "cancel_campaign",
    "complete_if_done",
    "create_campaign",
    "enqueue_email",
    "lift_suppression",
    "pause_campaign",
    "populate_campaign",
    "preview_campaign",
    "process_provider_event",
    "process_waiting_provider_events",
    "record_provider_event",
    "record_provider_events",
    "requeue_provider_events",
    "resume_campaign",
    "run_due_campaigns",
    "schedule_campaign",
    "send_campaign_batch",
    "send_campaign_now",
    "send_campaign_test",
    "send_delivery",
    "suppress_address",
    "suppress_address_hash",
    "sweep_campaigns",
    "sweep_outbox",
    "update_campaign",
    "validate_segment",
]
