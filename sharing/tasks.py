"""Celery tasks of the sharing app: thin, named, idempotent; each calls one service."""

from __future__ import annotations

from celery import shared_task

from sharing.services import notifications
from sharing.services.aggregate_reports import generate_scheduled_reports
from sharing.services.transfers import record_business_transfers


@shared_task(name="sharing.send_recipient_notification")
def send_notification_task(notification_id: int) -> str:
    return notifications.send_notification(notification_id=notification_id)


@shared_task(name="sharing.sweep_recipient_notifications")
def sweep_notifications_task() -> dict[str, int]:
    """The periodic sweep: notices due, claims whose worker is gone, bounces, old references."""
    return notifications.sweep_notifications()


@shared_task(name="sharing.record_business_transfers")
def record_business_transfers_task() -> dict[str, int]:
    """Periodic (beat): record the transfer of customer data for each business transition in
    effect. A run that stops at its time budget queues the next one."""
    run = record_business_transfers()
    if run.more:
        record_business_transfers_task.delay()
    return {"started": run.started, "disclosed": run.disclosed, "more": run.more}


@shared_task(name="sharing.generate_aggregate_reports")
def generate_aggregate_reports_task() -> dict[str, object]:
    """Periodic (beat, daily): last month's aggregate report for each supplier that sold
    something in it, once each; a day the reports are all made writes nothing."""
    run = generate_scheduled_reports()
    return {
        "period_start": run.period_start.isoformat(),
        "period_end": run.period_end.isoformat(),
        "generated": run.generated,
        "already_done": run.already_done,
        "refused": run.refused,
    }
