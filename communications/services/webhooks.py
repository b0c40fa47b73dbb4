"""Provider events (bounces, complaints, unsubscribes) from django-anymail's tracking webhooks.

The webhook request does one thing: record the event, once (unique per provider and event
id), and queue its processing. Processing then suppresses addresses and withdraws consent.
Replaying an event changes nothing: the second copy is not recorded, and an event is
processed under a row lock exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from communications.addresses import address_hash, mask_addresses_in
from communications.models import Delivery, ProviderEvent, Suppression, delivery_id_from_message_id
from consent.services import ConsentSource
from consent.tokens import ALL_PURPOSES
from privacy_site.auth_user import AuthUser
from privacy_site.masking import mask_address

from .suppression import suppress_address_hash
from .unsubscribe import unsubscribe_from_delivery

logger = logging.getLogger(__name__)

# Anymail's normalised event types that change what we may send. Opens and clicks are not
# kept at all: the policy promises no tracking of that kind.
HANDLED = {"bounced", "deferred", "complained", "unsubscribed", "rejected", "delivered"}
# Reject reasons that mean the address itself is bad.
_BAD_ADDRESS = {"bounced", "invalid"}


def is_soft_bounce(event: AnymailTrackingEvent) -> bool:
    """Anymail folds some providers' temporary failures into "bounced"; read them back."""
    if event.event_type == "deferred":
        return True
    if event.event_type != "bounced":
        return False
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    bounce = raw.get("bounce")
    ses_bounce = bounce if isinstance(bounce, dict) else {}
    markers = (
        str(raw.get("Type", "")),  # Postmark
        str(raw.get("severity", "")),  # Mailgun
        str(raw.get("bounceType", "") or ses_bounce.get("bounceType", "")),  # SES
        str(raw.get("type", "")),  # SendGrid: "blocked" is a temporary refusal
    )
    return any(marker in {"SoftBounce", "Transient", "temporary", "blocked"} for marker in markers)


def _event_id(event: AnymailTrackingEvent, esp_name: str, recipient: str) -> str:
    if event.event_id:
        # Amazon SES sends one notification, under one id, for every recipient it bounced
        # (anymail splits it into one event each): the id alone would record the first
        # recipient and drop the others as replays. The recipient's hash tells them apart.
        suffix = f":{address_hash(recipient)[:16]}" if recipient else ""
        return str(event.event_id)[: 200 - len(suffix)] + suffix
    # Some providers send no id: the payload itself is the identity of a replay.
    raw = json.dumps(event.esp_event, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(f"{esp_name}:{raw}".encode()).hexdigest()


def record_provider_event(*, event: AnymailTrackingEvent, esp_name: str) -> ProviderEvent | None:
    """Record one tracking event and queue its processing; None for a replay or an event
    type we don't act on."""
    from communications.tasks import process_provider_event_task

    if event.event_type not in HANDLED:
        return None
    # The webhook's credentials prove who sent the payload, not that its fields have the types
    # anymail documents: each is read as text, cut to its column, or left out.
    recipient = str(event.recipient or "").strip().lower()
    if len(recipient) > 254:  # longer than any address (RFC 5321): it names nobody
        recipient = ""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    message_id = str(event.message_id or "")[:200]
    delivery_ref = str(metadata.get("delivery_id", ""))[:40]
    if not (recipient or message_id or delivery_ref):
        logger.info(
            "%s %s event names no recipient or message: ignored", esp_name, event.event_type
        )
        return None
    try:
        with transaction.atomic():
            recorded = ProviderEvent.objects.create(
                esp_name=esp_name[:50],
                event_id=_event_id(event, esp_name, recipient),
                event_type=event.event_type,
                reject_reason=str(event.reject_reason or "")[:30],
                is_soft_bounce=is_soft_bounce(event),
                recipient=recipient,
                recipient_hash=address_hash(recipient) if recipient else "",
                message_id=message_id,
                delivery_ref=delivery_ref,
                description=mask_addresses_in(str(event.description or event.mta_response or ""))[
                    :2000
                ],
                occurred_at=event.timestamp if isinstance(event.timestamp, datetime) else None,
            )
            # Robust: with the broker down the event is still recorded, and the sweep
            # (``requeue_provider_events``) queues it later; the provider gets its 200.
            transaction.on_commit(
                lambda: process_provider_event_task.delay(recorded.pk), robust=True
            )
    except IntegrityError:
        logger.info("%s event %s already recorded", esp_name, event.event_id)
        return None
    return recorded


def requeue_provider_events() -> int:
    """Queue again the events recorded but not processed within ``EMAIL_OUTBOX_RETRY_AFTER``
    (their task lost with the broker, or its worker); returns how many."""
    from communications.tasks import process_provider_event_task

    before = timezone.now() - timedelta(seconds=settings.EMAIL_OUTBOX_RETRY_AFTER)
    waiting = list(
        ProviderEvent.objects.filter(processed_at__isnull=True, received_at__lt=before)
        .order_by("received_at")
        .values_list("pk", flat=True)[: settings.EMAIL_SWEEP_LIMIT]
    )
    for event_id in waiting:
        process_provider_event_task.delay(event_id)
    return len(waiting)


def _delivery_for(event: ProviderEvent) -> Delivery | None:
    deliveries = Delivery.objects.select_related("user")
    if event.delivery_ref.isdigit():
        found = deliveries.filter(pk=int(event.delivery_ref)).first()
        if found is not None:
            return found
    if event.message_id:
        found = deliveries.filter(provider_message_id=event.message_id).first()
        if found is not None:
            return found
        delivery_id = delivery_id_from_message_id(event.message_id)
        if delivery_id is not None:
            return deliveries.filter(pk=delivery_id).first()
    return None


@transaction.atomic
def process_provider_event(*, event_id: int) -> str:
    """Act on one recorded event; returns what was done. Runs once per event."""
    event = ProviderEvent.objects.select_for_update().filter(pk=event_id).first()
    if event is None:
        return "missing"
    if event.processed_at is not None:
        return event.outcome
    delivery = _delivery_for(event)
    user = delivery.user if delivery is not None and delivery.user_id else None
    if user is None and event.recipient:
        user = get_user_model().objects.filter(email__iexact=event.recipient).first()
    address = event.recipient_hash or (address_hash(user.email) if user else "")
    outcome = _act(event, delivery=delivery, user=user, address=address)
    event.delivery = delivery
    event.processed_at = timezone.now()
    event.outcome = outcome[:200]
    event.recipient = ""
    event.save(update_fields=["delivery", "processed_at", "outcome", "recipient"])
    logger.info(
        "%s %s for %s: %s",
        event.esp_name,
        event.event_type,
        mask_address(user.email) if user else "unknown recipient",
        outcome,
    )
    return outcome


def _act(
    event: ProviderEvent, *, delivery: Delivery | None, user: AuthUser | None, address: str
) -> str:
    detail = f"{event.esp_name} event {event.event_id}"
    if event.event_type == "delivered":
        return "delivered"
    if event.is_soft_bounce:
        return _soft_bounce(event, address=address, detail=detail)
    if event.event_type == "bounced":
        suppress_address_hash(address, reason=Suppression.Reason.HARD_BOUNCE, detail=detail)
        _mark(delivery, Delivery.Status.BOUNCED, event.description)
        return "hard bounce: address suppressed"
    if event.event_type == "complained":
        suppress_address_hash(address, reason=Suppression.Reason.COMPLAINT, detail=detail)
        _mark(delivery, Delivery.Status.COMPLAINED, event.description)
        if user is not None:
            # All marketing, whatever the email: its row says complained, not unsubscribed.
            unsubscribe_from_delivery(
                subject=user, source=ConsentSource.PROVIDER_COMPLAINT, purpose=ALL_PURPOSES
            )
        return "complaint: address suppressed, marketing consent withdrawn"
    if event.event_type == "unsubscribed":
        return _unsubscribe(delivery=delivery, user=user)
    if event.event_type == "rejected":
        if event.reject_reason in _BAD_ADDRESS:
            suppress_address_hash(address, reason=Suppression.Reason.REJECTED, detail=detail)
            _mark(delivery, Delivery.Status.BOUNCED, event.description)
            return "rejected as a bad address: suppressed"
        if event.reject_reason == "unsubscribed":
            return _unsubscribe(delivery=delivery, user=user)
        _mark(delivery, Delivery.Status.FAILED, event.description or "rejected by the provider")
        return f"rejected ({event.reject_reason or 'no reason given'})"
    return "ignored"


def _soft_bounce(event: ProviderEvent, *, address: str, detail: str) -> str:
    if not address:
        return "soft bounce: no address"
    last_delivered = (
        ProviderEvent.objects.filter(recipient_hash=address, event_type="delivered")
        .order_by("-received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    bounces = ProviderEvent.objects.filter(recipient_hash=address, is_soft_bounce=True)
    if last_delivered is not None:
        bounces = bounces.filter(received_at__gt=last_delivered)
    # Providers report every failed attempt at one message while they keep retrying it
    # (SendGrid's deferred attempts, Mailgun's greylisting): one message is one soft bounce.
    count = (
        bounces.exclude(message_id="").order_by().values("message_id").distinct().count()
        + bounces.filter(message_id="").count()
    )
    limit = settings.EMAIL_SOFT_BOUNCE_LIMIT
    if count >= limit:
        suppress_address_hash(
            address,
            reason=Suppression.Reason.SOFT_BOUNCES,
            detail=f"{count} soft bounces; {detail}",
        )
        return f"soft bounce {count} of {limit}: address suppressed"
    return f"soft bounce {count} of {limit}"


def _unsubscribe(*, delivery: Delivery | None, user: AuthUser | None) -> str:
    if user is None:
        return "unsubscribe: no account found"
    unsubscribed = unsubscribe_from_delivery(
        subject=user,
        source=ConsentSource.PROVIDER_UNSUBSCRIBE,
        delivery_id=delivery.pk if delivery is not None else None,
    )
    return str(unsubscribed)


def _mark(delivery: Delivery | None, status: str, error: str) -> None:
    if delivery is None:
        return
    delivery.status = status
    delivery.last_error = (error or "")[:1000]
    delivery.save(update_fields=["status", "last_error", "updated_at"])
