"""Every write of the communications app. Import from here: ``from communications.services
import ...``."""

from .campaigns import (
    CampaignError,
    campaign_progress,
    cancel_campaign,
    complete_if_done,
    pause_campaign,
    populate_campaign,
    preview_campaign,
    resume_campaign,
    run_due_campaigns,
    save_campaign,
    schedule_campaign,
    send_campaign_batch,
    send_campaign_now,
    send_campaign_test,
    sweep_campaigns,
    validate_segment,
)
from .outbox import enqueue_email, send_delivery, sweep_outbox
from .suppression import lift_suppression, suppress_address, suppress_address_hash
from .webhooks import process_provider_event, record_provider_event, requeue_provider_events

__all__ = [
    "CampaignError",
    "campaign_progress",
    "cancel_campaign",
    "complete_if_done",
    "enqueue_email",
    "lift_suppression",
    "pause_campaign",
    "populate_campaign",
    "preview_campaign",
    "process_provider_event",
    "record_provider_event",
    "requeue_provider_events",
    "resume_campaign",
    "run_due_campaigns",
    "save_campaign",
    "schedule_campaign",
    "send_campaign_batch",
    "send_campaign_now",
    "send_campaign_test",
    "send_delivery",
    "suppress_address",
    "suppress_address_hash",
    "sweep_campaigns",
    "sweep_outbox",
    "validate_segment",
]
