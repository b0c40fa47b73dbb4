"""Celery tasks of the communications app: thin, named, idempotent; each calls one service."""

from __future__ import annotations

from celery import shared_task

from .referrals.tasks import deliver_referral_task, sweep_referrals_task  # noqa: F401 - registers
from .services.campaigns.audience import populate_campaign
from .services.campaigns.batches import send_campaign_batch
from .services.campaigns.sweeps import run_due_campaigns, sweep_campaigns
from .services.outbox import send_delivery, sweep_outbox
from .services.provider_events import process_waiting_provider_events
from .services.webhooks import requeue_provider_events


@shared_task(name="communications.send_delivery")
def send_delivery_task(delivery_id: int) -> str:
    return send_delivery(delivery_id=delivery_id)


@shared_task(name="communications.populate_campaign")
def populate_campaign_task(campaign_id: int) -> int:
    return populate_campaign(campaign_id=campaign_id)


@shared_task(name="communications.send_campaign_batch")
def send_campaign_batch_task(campaign_id: int, chain: bool = False) -> int:
    return send_campaign_batch(campaign_id=campaign_id, chain=chain)


@shared_task(name="communications.process_provider_event")
def process_provider_event_task(event_id: int | None = None) -> int:
    """Process every provider event waiting, in batches (``event_id``, the first event of the
    request that queued the run, is among them); returns how many were processed."""
    return process_waiting_provider_events()


@shared_task(name="communications.run_due_campaigns")
def run_due_campaigns_task() -> list[int]:
    return run_due_campaigns()


@shared_task(name="communications.sweep_outbox")
def sweep_outbox_task() -> dict[str, int]:
    """The periodic sweep: transactional rows left behind, stuck rows, stalled campaigns."""
    swept = sweep_outbox()
    swept["campaigns_restarted"] = len(sweep_campaigns())
    swept["provider_events_requeued"] = requeue_provider_events()
    return swept
