"""Celery tasks of the sharing app: thin, named, idempotent; each calls one service."""

from __future__ import annotations

from celery import shared_task

from sharing.services import notifications


@shared_task(name="sharing.send_recipient_notification")
def send_notification_task(notification_id: int) -> str:
    return notifications.send_notification(notification_id=notification_id)


@shared_task(name="sharing.sweep_recipient_notifications")
def sweep_notifications_task() -> dict:
    """The periodic sweep: notices due, claims whose worker is gone, bounces, old references."""
    return notifications.sweep_notifications()
