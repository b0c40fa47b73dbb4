"""Provider events (bounces, complaints, unsubscribes) from django-anymail's tracking webhooks:
recording them, and queuing their processing (``provider_events``).

The webhook request records its events, once each (unique per provider and event id), in one
INSERT for the whole request (SendGrid, Mailgun and Amazon SES send many per request): a
replay is skipped by the database (``ON CONFLICT DO NOTHING``), with no savepoint and no
second statement. The request then queues the processing, unless a run is already queued:
one Celery task handles every event recorded until it starts, so a busy webhook costs one
publish per run of the task, not one per event. With the broker down the events stay
recorded and the sweep (``requeue_provider_events``) queues their processing later.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, cast

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from communications.addresses import address_hash, mask_addresses_in
from communications.models import ProviderEvent

logger = logging.getLogger(__name__)

# Anymail's normalised event types that change what we may send. Opens and clicks are not
# kept at all: the policy promises no tracking of that kind.
HANDLED = {"bounced", "deferred", "complained", "unsubscribed", "rejected", "delivered"}
# Set (in the cache, shared by every process) while a processing run is queued and has not
# started; it expires on its own in case the run is lost.
SCHEDULED_KEY = "communications:provider-events:scheduled"
SCHEDULED_TIMEOUT = 30
# The events of the webhook request being handled, recorded together when it ends.
_collected: ContextVar[list[tuple[AnymailTrackingEvent, str]] | None] = ContextVar(
    "provider_events_collected", default=None
)


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


def _row(event: AnymailTrackingEvent, esp_name: str, received_at: datetime) -> ProviderEvent | None:
    """The row to record for one event; None for one we don't act on or that names nobody."""
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
    return ProviderEvent(
        esp_name=esp_name[:50],
        event_id=_event_id(event, esp_name, recipient),
        event_type=event.event_type,
        reject_reason=str(event.reject_reason or "")[:30],
        is_soft_bounce=is_soft_bounce(event),
        recipient=recipient,
        recipient_hash=address_hash(recipient) if recipient else "",
        message_id=message_id,
        delivery_ref=delivery_ref,
        description=mask_addresses_in(str(event.description or event.mta_response or ""))[:2000],
        occurred_at=event.timestamp if isinstance(event.timestamp, datetime) else None,
        received_at=received_at,
    )


_COLUMNS = (
    "esp_name",
    "event_id",
    "event_type",
    "reject_reason",
    "is_soft_bounce",
    "recipient",
    "recipient_hash",
    "message_id",
    "delivery_ref",
    "description",
    "occurred_at",
    "received_at",
    "outcome",
)


def record_provider_events(
    events: Iterable[tuple[AnymailTrackingEvent, str]],
) -> list[ProviderEvent]:
    """Record (event, esp_name) pairs in one statement and queue their processing once it
    commits; returns the rows recorded (not the replays, nor the events we don't act on)."""
    now = timezone.now()
    rows = [row for event, esp_name in events if (row := _row(event, esp_name, now)) is not None]
    if not rows:
        return []
    fields = [cast("Field[Any, Any]", ProviderEvent._meta.get_field(name)) for name in _COLUMNS]
    values = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
        for row in rows
    ]
    table = connection.ops.quote_name(ProviderEvent._meta.db_table)
    # None of them is a relation: each field's name is its column's.
    columns = ", ".join(connection.ops.quote_name(name) for name in _COLUMNS)
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    # Only the model's own names and placeholders are interpolated; the values are parameters.
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES {placeholders} "  # noqa: S608
        "ON CONFLICT (esp_name, event_id) DO NOTHING RETURNING id, esp_name, event_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in values for value in row])
        inserted = {(esp_name, event_id): pk for pk, esp_name, event_id in cursor.fetchall()}
    recorded = []
    for row in rows:
        pk = inserted.pop((row.esp_name, row.event_id), None)
        if pk is None:
            logger.info("%s event %s already recorded", row.esp_name, row.event_id)
            continue
        row.pk = pk
        row._state.adding = False
        recorded.append(row)
    if recorded:
        first = recorded[0].pk
        # Robust: with the broker down the events are still recorded, and the sweep queues
        # them later; the provider gets its 200.
        transaction.on_commit(lambda: schedule_processing(first), robust=True)
    return recorded


def record_provider_event(*, event: AnymailTrackingEvent, esp_name: str) -> ProviderEvent | None:
    """Record one tracking event and queue its processing; None for a replay or an event
    type we don't act on."""
    recorded = record_provider_events([(event, esp_name)])
    return recorded[0] if recorded else None


def receive_provider_event(*, event: AnymailTrackingEvent, esp_name: str) -> None:
    """anymail's tracking signal: kept for the end of the request when the webhook view
    collects its events (``collecting_provider_events``), recorded at once otherwise."""
    collected = _collected.get()
    if collected is None:
        record_provider_event(event=event, esp_name=esp_name)
    else:
        collected.append((event, esp_name))


@contextmanager
def collecting_provider_events() -> Iterator[None]:
    """Record the tracking events announced inside the block together, in one statement, when
    it ends without an error (an error records none of them)."""
    collected: list[tuple[AnymailTrackingEvent, str]] = []
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
    record_provider_events(collected)


def schedule_processing(event_id: int | None = None) -> None:
    """Queue a processing run, unless one is queued and has not started yet."""
    from communications.tasks import process_provider_event_task

    if not cache.add(SCHEDULED_KEY, event_id or 0, timeout=SCHEDULED_TIMEOUT):
        return
    try:
        process_provider_event_task.delay(event_id)
    except Exception:
        cache.delete(SCHEDULED_KEY)
        raise


def processing_started() -> None:
    """A run has started: the next event recorded queues another."""
    cache.delete(SCHEDULED_KEY)


def requeue_provider_events() -> int:
    """Queue a processing run when events recorded more than ``EMAIL_OUTBOX_RETRY_AFTER``
    seconds ago are still waiting (their run lost with the broker, or its worker); returns
    how many are waiting."""
    from communications.tasks import process_provider_event_task

    before = timezone.now() - timedelta(seconds=settings.EMAIL_OUTBOX_RETRY_AFTER)
    waiting = ProviderEvent.objects.filter(processed_at__isnull=True, received_at__lt=before)
    oldest = waiting.order_by("received_at").values_list("pk", flat=True).first()
    if oldest is None:
        return 0
    process_provider_event_task.delay(oldest)
    return waiting.count()
