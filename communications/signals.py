"""django-anymail announces provider events with its ``tracking`` signal; this receiver only
records them (the work is queued), so the webhook answers quickly."""

from __future__ import annotations

from anymail.signals import tracking
from django.dispatch import receiver

from .services import record_provider_event


@receiver(tracking, dispatch_uid="communications.record_provider_event")
def on_tracking_event(sender, event, esp_name, **kwargs) -> None:
    record_provider_event(event=event, esp_name=esp_name)
