"""django-anymail announces provider events with its ``tracking`` signal and received email
with its ``inbound`` signal. These receivers are adapters: they hand the event to one service
and return, so the webhook answers quickly."""

from __future__ import annotations

from anymail.signals import inbound, tracking
from django.core.signals import setting_changed
from django.dispatch import receiver

from .services.inbound import unsubscribe_by_email
from .services.webhooks import forget_queued_run, receive_provider_event


@receiver(tracking, dispatch_uid="communications.record_provider_event")
def on_tracking_event(sender, event, esp_name, **kwargs) -> None:
    receive_provider_event(event=event, esp_name=esp_name)


@receiver(inbound, dispatch_uid="communications.unsubscribe_by_email")
def on_inbound_email(sender, event, esp_name, **kwargs) -> None:
    message = event.message
    if message is None or message.from_email is None:
        return
    unsubscribe_by_email(
        sender=message.from_email.addr_spec,
        recipients=[address.addr_spec for address in message.to],
        subject=message.subject or "",
    )


@receiver(setting_changed, dispatch_uid="communications.webhook_run_window_changed")
def on_run_window_changed(sender, setting, **kwargs) -> None:
    if setting == "EMAIL_WEBHOOK_RUN_WINDOW":
        forget_queued_run()
