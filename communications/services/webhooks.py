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
import math
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
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
# When this process last saw a run queued (``schedule_processing``).
_seen_queued_at = -math.inf
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


def _row(
    event: AnymailTrackingEvent, esp_name: str, received_at: datetime
) -> dict[str, Any] | None:
    """The columns to record for one event; None for one we don't act on or that names
    nobody."""
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
    return {
        "esp_name": esp_name[:50],
        "event_id": _event_id(event, esp_name, recipient),
        "event_type": event.event_type,
        "reject_reason": str(event.reject_reason or "")[:30],
        "is_soft_bounce": is_soft_bounce(event),
        "recipient": recipient,
        "recipient_hash": address_hash(recipient) if recipient else "",
        "message_id": message_id,
        "delivery_ref": delivery_ref,
        "description": mask_addresses_in(str(event.description or event.mta_response or ""))[:2000],
        "occurred_at": event.timestamp if isinstance(event.timestamp, datetime) else None,
        "received_at": received_at,
        "outcome": "",
    }


def _insert(rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """One INSERT of the rows, skipping those already recorded; the new rows' ids by
    (esp_name, event_id)."""
    adapt = connection.ops.adapt_datetimefield_value
    columns = list(rows[0])
    values: list[Any] = []
    for row in rows:
        row["occurred_at"] = adapt(row["occurred_at"])
        row["received_at"] = adapt(row["received_at"])
        values.extend(row.values())
    quote = connection.ops.quote_name
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    # Only the model's own names and placeholders are interpolated; the values are parameters.
    sql = (
        f"INSERT INTO {quote(ProviderEvent._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(column) for column in columns)}) VALUES {placeholders} "
        "ON CONFLICT (esp_name, event_id) DO NOTHING RETURNING id, esp_name, event_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return {(esp_name, event_id): pk for pk, esp_name, event_id in cursor.fetchall()}


def record_provider_events(events: Iterable[tuple[AnymailTrackingEvent, str]]) -> list[int]:
    """Record (event, esp_name) pairs in one statement and queue their processing once it
    commits; returns the ids of the rows recorded (not the replays, nor the events we don't
    act on), in the order of the events."""
    now = timezone.now()
    rows = [row for event, esp_name in events if (row := _row(event, esp_name, now)) is not None]
    if not rows:
        return []
    inserted = _insert(rows)
    recorded = []
    for row in rows:
        pk = inserted.pop((row["esp_name"], row["event_id"]), None)
        if pk is None:
            logger.info("%s event %s already recorded", row["esp_name"], row["event_id"])
        else:
            recorded.append(pk)
    if recorded:
        first = recorded[0]
        # Robust: with the broker down the events are still recorded, and the sweep queues
        # them later; the provider gets its 200.
        transaction.on_commit(lambda: schedule_processing(first), robust=True)
    return recorded


def record_provider_event(*, event: AnymailTrackingEvent, esp_name: str) -> ProviderEvent | None:
    """Record one tracking event and queue its processing; the row, or None for a replay or
    an event type we don't act on."""
    recorded = record_provider_events([(event, esp_name)])
    return ProviderEvent.objects.get(pk=recorded[0]) if recorded else None


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
    """Queue a processing run, unless one is queued and has not started yet.

    A process that saw a run queued trusts it for ``EMAIL_WEBHOOK_RUN_WINDOW`` seconds without
    asking the cache again: what it records meanwhile is claimed by that run or by the
    follow-up that every run which processed something queues that long after it ends
    (``queue_follow_up``)."""
    from communications.tasks import process_provider_event_task

    global _seen_queued_at
    now = time.monotonic()
    if now - _seen_queued_at < settings.EMAIL_WEBHOOK_RUN_WINDOW:
        return
    added = cache.add(SCHEDULED_KEY, event_id or 0, timeout=SCHEDULED_TIMEOUT)
    if settings.EMAIL_WEBHOOK_RUN_WINDOW > 0:
        _seen_queued_at = now
    if not added:
        return
    try:
        process_provider_event_task.delay(event_id)
    except Exception:
        _seen_queued_at = -math.inf
        cache.delete(SCHEDULED_KEY)
        raise


def processing_started() -> None:
    """A run has started: the next event recorded queues another."""
    forget_queued_run()
    cache.delete(SCHEDULED_KEY)


def forget_queued_run() -> None:
    """This process asks the cache again next time (a run started, or the window changed)."""
    global _seen_queued_at
    _seen_queued_at = -math.inf


def queue_follow_up() -> None:
    """After a run that processed something: one more run, ``EMAIL_WEBHOOK_RUN_WINDOW``
    seconds later, for the events of processes that trusted the run to be queued."""
    from communications.tasks import process_provider_event_task

    window = settings.EMAIL_WEBHOOK_RUN_WINDOW
    if window <= 0:
        return
    try:
        process_provider_event_task.apply_async(countdown=window)
    except Exception:  # the broker is down: the sweep queues a run later
        logger.warning("provider events: the follow-up run could not be queued", exc_info=True)


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
