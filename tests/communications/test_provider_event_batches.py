"""Provider events are recorded cheaply and processed in batches: a request's events in one
INSERT, one processing run queued at a time, a worker claiming waiting events with SKIP LOCKED,
delivered events marked in one statement, a failing event left for the sweep, and nothing lost
while the broker is down."""

from __future__ import annotations

import base64
import json
import threading
import time
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import communications.tasks
from communications.addresses import address_hash
from communications.kinds import MessageKind
from communications.models import Delivery, ProviderEvent, Suppression
from communications.services import enqueue_email, requeue_provider_events
from communications.services.provider_events import (
    process_provider_event_batch,
    process_waiting_provider_events,
)
from communications.services.webhooks import SCHEDULED_KEY, processing_started
from consent.models import ConsentEvent, Purpose
from consent.services import ConsentSource
from tests.communications.test_webhooks import (
    WEBHOOK_SECRET,
    postmark_bounce,
    postmark_delivery,
    postmark_spam_complaint,
    sendgrid_event,
)

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")

AUTH = {"Authorization": "Basic " + base64.b64encode(WEBHOOK_SECRET.encode()).decode()}


@pytest.fixture
def webhook_settings(settings, clean_cache):
    settings.EMAIL_WEBHOOK_PROVIDERS = ["postmark", "sendgrid"]
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    return settings


def post(client, esp: str, payload) -> int:
    response = client.post(
        f"/anymail/{esp}/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        headers=AUTH,
    )
    return response.status_code


def wait_until_processed(count: int, *, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = ProviderEvent.objects.filter(processed_at__isnull=False).count()
        if done == count and not ProviderEvent.objects.filter(processed_at__isnull=True).exists():
            return
        time.sleep(0.05)
    waiting = ProviderEvent.objects.filter(processed_at__isnull=True).count()
    raise AssertionError(f"{waiting} provider events still waiting")


def sent(delivery: Delivery, provider_id: str) -> Delivery:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT, provider_message_id=provider_id
    )
    return delivery


def delivered(n: int, *, message_id: str = "pm-delivered") -> dict:
    payload = postmark_delivery(f"reader{n}@example.com", message_id=message_id)
    payload["MessageID"] = f"{message_id}-{n}" if message_id == "pm-delivered" else message_id
    payload["DeliveredAt"] = f"2026-11-01T10:00:{n % 60:02d}Z"
    return payload


# --- With a real worker -------------------------------------------------------------------------


@pytest.mark.worker
def test_a_worker_processes_posted_events_in_batches_with_their_effects_once(
    own_workers, client, webhook_settings, make_user
):
    # given: the production window (this process asks the cache at most every 0.3 s whether
    # a run is queued; the worker queues a follow-up after each run)
    webhook_settings.EMAIL_WEBHOOK_RUN_WINDOW = 0.3
    own_workers(name="provider-events", EMAIL_WEBHOOK_RUN_WINDOW=0.3)
    # and a newsletter Postmark accepted for Ann, and Bob who will complain
    ann = make_user("ann@example.com", consents=[Purpose.NEWSLETTER])
    bob = make_user("spam@example.com", consents=[Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS])
    newsletter = sent(enqueue_email(kind=MessageKind.NEWSLETTER, user=ann), "pm-ann-1")

    # when: forty deliveries, a hard bounce, a complaint and its replay, one request each
    statuses = [post(client, "postmark", delivered(n)) for n in range(40)]
    statuses.append(post(client, "postmark", delivered(0, message_id="pm-ann-1")))
    statuses.append(post(client, "postmark", postmark_bounce("gone@example.com")))
    statuses += [post(client, "postmark", postmark_spam_complaint("spam@example.com"))] * 2

    # then: every request answered 200 and the worker processed each event once
    assert statuses == [200] * 44
    wait_until_processed(43)
    assert ProviderEvent.objects.count() == 43
    ours = ProviderEvent.objects.get(message_id="pm-ann-1")
    assert (ours.outcome, ours.delivery_id, ours.recipient) == ("delivered", newsletter.pk, "")
    assert ProviderEvent.objects.filter(outcome="delivered", delivery=None).count() == 40
    assert Suppression.objects.get(address_hash=address_hash("gone@example.com")).reason == (
        Suppression.Reason.HARD_BOUNCE
    )
    assert Suppression.objects.get(address_hash=address_hash("spam@example.com")).reason == (
        Suppression.Reason.COMPLAINT
    )
    assert sorted(
        ConsentEvent.objects.filter(
            subject=bob, source=ConsentSource.PROVIDER_COMPLAINT
        ).values_list("purpose__code", flat=True)
    ) == [Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS]
    newsletter.refresh_from_db()
    assert newsletter.status == Delivery.Status.SENT
    assert not ProviderEvent.objects.exclude(recipient="").exists()


@pytest.mark.worker
def test_events_recorded_while_the_broker_is_down_are_processed_after_the_sweep(
    celery_worker, client, webhook_settings, make_user
):
    # given: the broker is down while the provider posts
    make_user("spam@example.com", consents=[Purpose.NEWSLETTER])
    broker_down = mock.patch.object(
        communications.tasks.process_provider_event_task,
        "delay",
        side_effect=ConnectionError("Error 111 connecting to the broker"),
    )
    with broker_down as delay:
        statuses = [post(client, "postmark", delivered(n)) for n in range(5)]
        statuses.append(post(client, "postmark", postmark_spam_complaint("spam@example.com")))

    # then: the provider got its 200s, every event is recorded, none processed, and the
    # failed publish did not leave a run marked as queued
    assert statuses == [200] * 6
    assert delay.call_count == 6
    assert ProviderEvent.objects.filter(processed_at__isnull=True).count() == 6
    assert cache.get(SCHEDULED_KEY) is None

    # when the broker is back, the sweep queues one run for all of them
    webhook_settings.EMAIL_OUTBOX_RETRY_AFTER = 0
    assert requeue_provider_events() == 6

    wait_until_processed(6)
    assert Suppression.objects.filter(address_hash=address_hash("spam@example.com")).exists()


# --- Recording ----------------------------------------------------------------------------------


def test_a_request_of_many_events_is_recorded_in_one_insert_and_queues_one_run(
    db, client, webhook_settings, django_capture_on_commit_callbacks
):
    events = [
        sendgrid_event("delivered", f"r{n}@example.com", sg_event_id=f"batch-{n}")
        for n in range(30)
    ]
    events.append(events[3])  # the provider repeats one inside the batch

    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks() as queued,
    ):
        assert post(client, "sendgrid", events) == 200

    inserts = [q["sql"] for q in queries if "INSERT" in q["sql"] and "providerevent" in q["sql"]]
    assert len(inserts) == 1
    assert len(queued) == 1
    assert ProviderEvent.objects.count() == 30

    # a replay of the whole request records nothing and queues nothing
    with django_capture_on_commit_callbacks() as queued:
        assert post(client, "sendgrid", events) == 200
    assert ProviderEvent.objects.count() == 30
    assert queued == []


def test_a_request_the_provider_must_retry_records_none_of_its_events(db, client, webhook_settings):
    events = [sendgrid_event("bounce", f"r{n}@example.com", sg_event_id=f"e-{n}") for n in range(3)]

    with mock.patch(
        "communications.services.webhooks.record_provider_events",
        side_effect=ConnectionError("database gone"),
    ):
        response = client.post(
            "/anymail/sendgrid/tracking/",
            data=json.dumps(events),
            content_type="application/json",
            headers=AUTH,
        )

    assert response.status_code == 503
    assert not ProviderEvent.objects.exists()


def test_one_processing_run_is_queued_until_it_starts(
    db, webhook_settings, django_capture_on_commit_callbacks
):
    from anymail.signals import AnymailTrackingEvent

    from communications.services import record_provider_event

    def bounce(n: int) -> AnymailTrackingEvent:
        return AnymailTrackingEvent(
            event_type="bounced", event_id=f"run-{n}", recipient=f"r{n}@example.com"
        )

    with mock.patch.object(communications.tasks.process_provider_event_task, "delay") as delay:
        for n in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                record_provider_event(event=bounce(n), esp_name="Postmark")
        assert delay.call_count == 1

        processing_started()  # the run began: the next event queues another
        with django_capture_on_commit_callbacks(execute=True):
            later = record_provider_event(event=bounce(3), esp_name="Postmark")

    assert delay.call_count == 2
    assert delay.call_args.args == (later.pk,)


def test_within_the_window_a_process_asks_the_cache_once_and_each_run_queues_a_follow_up(
    db, webhook_settings, django_capture_on_commit_callbacks
):
    from anymail.signals import AnymailTrackingEvent

    from communications.services import record_provider_event

    webhook_settings.EMAIL_WEBHOOK_RUN_WINDOW = 60
    task = communications.tasks.process_provider_event_task
    with (
        mock.patch.object(task, "delay") as delay,
        mock.patch.object(task, "apply_async") as apply_async,
        mock.patch.object(cache, "add", wraps=cache.add) as add,
    ):
        for n in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                record_provider_event(
                    event=AnymailTrackingEvent(
                        event_type="bounced", event_id=f"w-{n}", recipient=f"r{n}@example.com"
                    ),
                    esp_name="Postmark",
                )
        assert (add.call_count, delay.call_count) == (1, 1)

        # the run processes all three, then queues its follow-up a window later
        assert process_waiting_provider_events() == 3
        apply_async.assert_called_once_with(countdown=60)
        # which finds nothing to do and queues nothing more
        assert process_waiting_provider_events() == 0
        assert apply_async.call_count == 1


# --- Processing ---------------------------------------------------------------------------------


def test_delivered_events_are_marked_processed_in_a_few_statements(db, make_user):
    user = make_user("ann@example.com")
    ours = sent(enqueue_email(kind=MessageKind.WELCOME, user=user), "pm-ours")
    from anymail.signals import AnymailTrackingEvent

    from communications.services import record_provider_events

    record_provider_events(
        [
            (
                AnymailTrackingEvent(
                    event_type="delivered",
                    event_id=f"d-{n}",
                    recipient=f"r{n}@example.com",
                    message_id="pm-ours" if n == 7 else f"pm-{n}",
                ),
                "Postmark",
            )
            for n in range(200)
        ]
    )

    with CaptureQueriesContext(connection) as queries:
        assert process_provider_event_batch(size=500) == (200, 200)

    statements = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # the claim, the deliveries by the provider's message id, one UPDATE (none of these events
    # names a delivery of ours, so there is no lookup by our own id)
    assert len(statements) == 3
    assert ProviderEvent.objects.filter(
        outcome="delivered", processed_at__isnull=False
    ).count() == (200)
    assert ProviderEvent.objects.get(message_id="pm-ours").delivery == ours
    assert not ProviderEvent.objects.exclude(recipient="").exists()


def test_an_event_that_fails_is_rolled_back_and_left_for_the_next_run(db, make_user):
    from anymail.signals import AnymailTrackingEvent

    from communications.services import record_provider_events

    make_user("spam@example.com", consents=[Purpose.NEWSLETTER])
    record_provider_events(
        [
            (AnymailTrackingEvent(event_type=kind, event_id=kind, recipient=email), "Postmark")
            for kind, email in [
                ("complained", "spam@example.com"),
                ("bounced", "gone@example.com"),
                ("delivered", "fine@example.com"),
            ]
        ]
    )

    with mock.patch(
        "communications.services.provider_events.unsubscribe_from_delivery",
        side_effect=RuntimeError("consent ledger unavailable"),
    ):
        assert process_waiting_provider_events() == 2

    complaint = ProviderEvent.objects.get(event_type="complained")
    assert complaint.processed_at is None
    assert complaint.recipient == "spam@example.com"
    # its suppression was rolled back with it; the others' effects stand
    assert not Suppression.objects.filter(address_hash=address_hash("spam@example.com")).exists()
    assert Suppression.objects.filter(address_hash=address_hash("gone@example.com")).exists()

    assert process_waiting_provider_events() == 1
    complaint.refresh_from_db()
    assert complaint.outcome == "complaint: address suppressed, marketing consent withdrawn"
    assert Suppression.objects.filter(address_hash=address_hash("spam@example.com")).exists()


def test_two_workers_never_claim_the_same_event(transactional_db):
    from anymail.signals import AnymailTrackingEvent

    from communications.services import record_provider_events

    # committed here, and processed only by this test (no run queued for a worker)
    with mock.patch.object(communications.tasks.process_provider_event_task, "delay"):
        record_provider_events(
            [
                (
                    AnymailTrackingEvent(
                        event_type="bounced", event_id=f"b-{n}", recipient=f"r{n}@example.com"
                    ),
                    "Postmark",
                )
                for n in range(6)
            ]
        )
    claimed = threading.Event()
    release = threading.Event()
    held: list[int] = []

    def other_worker() -> None:
        # holds the two oldest events, as a worker mid-batch does
        try:
            with transaction.atomic():
                rows = list(
                    ProviderEvent.objects.select_for_update(skip_locked=True)
                    .filter(processed_at__isnull=True)
                    .order_by("received_at", "id")[:2]
                )
                held.extend(row.pk for row in rows)
                claimed.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert claimed.wait(10)
        assert process_provider_event_batch(size=500) == (4, 4)
    finally:
        release.set()
        thread.join()

    assert set(
        ProviderEvent.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
    ) == set(held)
    assert process_waiting_provider_events() == 2
    assert Suppression.objects.count() == 6
