"""django-anymail announces provider events with its ``tracking`` signal and received email
with its ``inbound`` signal. These receivers are adapters: they hand the event to one service
and return, so the webhook answers quickly."""

from __future__ import annotations

from anymail.signals import inbound, tracking
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from consent.models import PolicyVersion

from .models import BusinessTransition
from .services.inbound import unsubscribe_by_email
from .services.webhooks import forget_queued_run, receive_provider_event
from .templatetags.site_notices import forget_site_notices


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


@receiver(post_save, sender=PolicyVersion, dispatch_uid="communications.notices_version_saved")
@receiver(post_delete, sender=PolicyVersion, dispatch_uid="communications.notices_version_gone")
@receiver(post_save, sender=BusinessTransition, dispatch_uid="communications.notices_saved")
@receiver(post_delete, sender=BusinessTransition, dispatch_uid="communications.notices_gone")
def on_notice_changed(sender, **kwargs) -> None:
    # Now, for the rest of this transaction, and again once it commits.
    forget_site_notices()
    transaction.on_commit(forget_site_notices)
