"""Processing recorded provider events: suppress addresses, mark deliveries, withdraw consent.

A worker claims the events waiting, oldest first, in batches (``SELECT ... FOR UPDATE SKIP
LOCKED``, so two workers never take the same event) and processes each batch in one
transaction. ``delivered`` events change nothing but the soft-bounce count, which reads them
where they are: a batch of them costs two lookups of their deliveries and one UPDATE. Every
other event is processed on its own, under a savepoint: one that fails is rolled back and
left waiting for the sweep, and the rest of the batch goes on. An event is processed once:
a claimed event is locked, and a processed one is never claimed again.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import BigIntegerField, Case, Value, When
from django.utils import timezone

from communications.addresses import address_hash
from communications.models import Delivery, ProviderEvent, Suppression, delivery_id_from_message_id
from consent.services import ConsentSource
from consent.tokens import ALL_PURPOSES
from privacy_site.auth_user import AuthUser
from privacy_site.masking import mask_address
from privacy_site.numbers import whole_number

from .suppression import suppress_address_hash
from .unsubscribe import unsubscribe_from_delivery
from .webhooks import processing_started, queue_follow_up, schedule_processing

logger = logging.getLogger(__name__)

# Reject reasons that mean the address itself is bad.
_BAD_ADDRESS = {"bounced", "invalid"}
# One run of the task goes on for about this long (seconds), then queues the next run.
RUN_SECONDS = 60.0


def process_waiting_provider_events(*, batch_size: int | None = None) -> int:
    """Process the events waiting, batch after batch, until none is left (or ``RUN_SECONDS``
    have passed: then the next run is queued); returns how many were processed."""
    size = batch_size or settings.EMAIL_WEBHOOK_BATCH_SIZE
    # Events recorded from now on queue another run; those recorded before are claimed below.
    processing_started()
    started = time.monotonic()
    failed: set[int] = set()
    processed = 0
    while True:
        claimed, done = process_provider_event_batch(size=size, skip=failed)
        processed += done
        if claimed < size or time.monotonic() - started > RUN_SECONDS:
            break
    if claimed == size:  # out of time, not of events
        schedule_processing()
    if processed:
        queue_follow_up()
    return processed


@transaction.atomic
def process_provider_event_batch(*, size: int, skip: set[int] | None = None) -> tuple[int, int]:
    """Claim up to ``size`` waiting events and process them in one transaction; returns how
    many were claimed and how many processed. An event that fails is added to ``skip``."""
    skip = skip if skip is not None else set()
    events = list(
        ProviderEvent.objects.select_for_update(skip_locked=True)
        .filter(processed_at__isnull=True)
        .exclude(pk__in=skip)
        .order_by("received_at", "id")[:size]
    )
    delivered = [event for event in events if event.event_type == "delivered"]
    _record_delivered(delivered)
    processed = len(delivered)
    for event in events:
        if event.event_type == "delivered":
            continue
        try:
            with transaction.atomic():
                _process(event)
        except Exception:
            logger.exception("%s event %s could not be processed", event.esp_name, event.pk)
            skip.add(event.pk)
        else:
            processed += 1
    return len(events), processed


def _record_delivered(events: list[ProviderEvent]) -> None:
    """Mark ``delivered`` events processed in one UPDATE, each linked to its delivery."""
    if not events:
        return
    found = _deliveries_of(events)
    links = [
        When(pk=event.pk, then=Value(found[event.pk])) for event in events if event.pk in found
    ]
    ProviderEvent.objects.filter(pk__in=[event.pk for event in events]).update(
        processed_at=timezone.now(),
        outcome="delivered",
        recipient="",
        delivery_id=Case(*links, default=None, output_field=BigIntegerField()) if links else None,
    )


def _deliveries_of(events: list[ProviderEvent]) -> dict[int, int]:
    """Each event's delivery id, found as ``_delivery_for`` finds it, in two queries."""
    by_ref = {
        event.pk: number
        for event in events
        if (number := whole_number(event.delivery_ref)) is not None
    }
    by_our_id = {}
    for event in events:
        number = delivery_id_from_message_id(event.message_id) if event.message_id else None
        if number is not None:
            by_our_id[event.pk] = number
    existing = set(
        Delivery.objects.filter(pk__in={*by_ref.values(), *by_our_id.values()}).values_list(
            "pk", flat=True
        )
    )
    message_ids = {event.message_id for event in events if event.message_id}
    by_provider_id = dict(
        Delivery.objects.filter(provider_message_id__in=message_ids)
        .order_by("pk")
        .values_list("provider_message_id", "pk")
    )
    found: dict[int, int] = {}
    for event in events:
        if by_ref.get(event.pk) in existing:
            found[event.pk] = by_ref[event.pk]
        elif event.message_id in by_provider_id:
            found[event.pk] = by_provider_id[event.message_id]
        elif by_our_id.get(event.pk) in existing:
            found[event.pk] = by_our_id[event.pk]
    return found


@transaction.atomic
def process_provider_event(*, event_id: int) -> str:
    """Act on one recorded event; returns what was done. Runs once per event."""
    event = ProviderEvent.objects.select_for_update().filter(pk=event_id).first()
    if event is None:
        return "missing"
    if event.processed_at is not None:
        return event.outcome
    return _process(event)


def _process(event: ProviderEvent) -> str:
    """Act on one claimed (locked, not yet processed) event."""
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


def _delivery_for(event: ProviderEvent) -> Delivery | None:
    deliveries = Delivery.objects.select_related("user")
    if (number := whole_number(event.delivery_ref)) is not None:
        found = deliveries.filter(pk=number).first()
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
