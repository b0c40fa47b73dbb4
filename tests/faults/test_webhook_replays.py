"""The provider delivering the same webhook twice, and ten times at once: one effect.

Providers retry a webhook they saw no answer to, and a retry can overlap the first delivery.
The site runs under gunicorn as production runs it (``DJANGO_ENV=production``, sync workers,
every middleware); a real Celery worker processes the events. A newsletter is first sent for
real (the session worker, the test SMTP server), so the provider's events name deliveries
that went. For each kind of event that changes something (a hard bounce, a spam complaint,
an unsubscribe), one recipient's event is posted twice, one after the other, and another
recipient's ten times at once from ten threads: each event is recorded once and acts once
(one suppression, one withdrawal in the ledger per purpose, one change to the delivery), every
request is answered 200, and none with a server error.

The payloads are the providers' documented samples, as ``tests/communications/test_webhooks``
quotes them (Postmark's bounce and spam complaint, SendGrid's unsubscribe), pointed at our
deliveries.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from communications.addresses import address_hash
from communications.models import Delivery, ProviderEvent, Suppression
from communications.services import send_campaign_now
from consent.models import ConsentEvent, Purpose
from consent.selectors import consent_status
from consent.services import ConsentSource
from tests.benchmarks.site import Gunicorn, http_request
from tests.communications.campaigns import wait_until_completed
from tests.communications.test_webhooks import (
    WEBHOOK_SECRET,
    postmark_bounce,
    postmark_spam_complaint,
    sendgrid_event,
)
from tests.factories import CampaignFactory, UserFactory
from tests.faults.figures import write_figures
from tests.faults.invariants import assert_invariants, assert_no_5xx_outside
from tests.harness.smtp import SMTPServer
from tests.harness.worker import WorkerProcess

pytestmark = [
    pytest.mark.worker,
    pytest.mark.smtp,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

Status = Delivery.Status
AUTH = "Basic " + base64.b64encode(WEBHOOK_SECRET.encode()).decode()
AT_ONCE = 10
RUN_WINDOW = 0.5  # EMAIL_WEBHOOK_RUN_WINDOW, production's default
MARKETING = [Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS]


@pytest.fixture
def site(transactional_db, redis_client) -> Iterator[Gunicorn]:
    env = {
        "EMAIL_WEBHOOK_PROVIDERS": "postmark,sendgrid",
        "ANYMAIL": json.dumps({"WEBHOOK_SECRET": WEBHOOK_SECRET}),
        "EMAIL_WEBHOOK_RUN_WINDOW": str(RUN_WINDOW),
    }
    with Gunicorn(workers=3, env=env) as running:
        yield running


@pytest.fixture
def worker(own_workers) -> WorkerProcess:
    """A worker with the production settings of the webhook path, as the site has them: a
    process that saw a run queued trusts it for half a second, and every run that processed
    something queues a follow-up that long after it."""
    return own_workers(name="webhooks", EMAIL_WEBHOOK_RUN_WINDOW=RUN_WINDOW)


@pytest.fixture
def sent(smtp: SMTPServer, worker) -> dict[str, Delivery]:
    """A newsletter sent to two readers holding the newsletter and special offers: their
    delivery rows, by address."""
    readers = [
        UserFactory(email=f"reader{n}@example.com", first_name=f"Reader{n}", consents=MARKETING)
        for n in (1, 2)
    ]
    campaign = CampaignFactory(subject_line="May news", body="Hello")
    send_campaign_now(campaign=campaign)
    wait_until_completed(campaign)
    rows = {row.user.email: row for row in Delivery.objects.filter(campaign=campaign)}
    assert {row.status for row in rows.values()} == {Status.SENT}
    assert len(smtp.messages) == len(readers)
    return rows


def bounce(delivery: Delivery, n: int) -> tuple[str, object]:
    return "postmark", postmark_bounce(
        delivery.user.email, event_id=900_000 + n, message_id=delivery.provider_message_id
    )


def complaint(delivery: Delivery, n: int) -> tuple[str, object]:
    payload = postmark_spam_complaint(delivery.user.email)
    payload.update(ID=800_000 + n, MessageID=delivery.provider_message_id)
    return "postmark", payload


def unsubscribe(delivery: Delivery, n: int) -> tuple[str, object]:
    return "sendgrid", [
        sendgrid_event(
            "unsubscribe",
            delivery.user.email,
            sg_event_id=f"unsubscribe-{n}",
            delivery_id=str(delivery.pk),
        )
    ]


# What one event must have done, once: the delivery's status, whether the address is
# suppressed, and the purposes withdrawn in the ledger (with the source they carry).
EXPECTED = {
    "hard bounce": (bounce, Status.BOUNCED, True, [], None),
    "spam complaint": (
        complaint,
        Status.COMPLAINED,
        True,
        MARKETING,
        ConsentSource.PROVIDER_COMPLAINT,
    ),
    "unsubscribe": (
        unsubscribe,
        Status.SENT,
        False,
        [Purpose.NEWSLETTER],
        ConsentSource.PROVIDER_UNSUBSCRIBE,
    ),
}


def post(site: Gunicorn, esp: str, payload: object) -> tuple[float, int]:
    raw = http_request(
        "POST",
        f"/anymail/{esp}/tracking/",
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": AUTH},
    )
    at = time.monotonic()
    try:
        status, _ = site.request(raw)
    except OSError:
        status = 0
    return at, status


def at_once(count: int, send: Callable[[], tuple[float, int]]) -> list[tuple[float, int]]:
    """``send`` from ``count`` threads released together."""
    start = threading.Barrier(count)
    answers: list[tuple[float, int]] = []

    def one() -> None:
        start.wait()
        answers.append(send())

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def processed(expected: int, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (
        ProviderEvent.objects.count() < expected
        or ProviderEvent.objects.filter(processed_at__isnull=True).exists()
    ):
        assert time.monotonic() < deadline, list(
            ProviderEvent.objects.values("event_id", "processed_at", "outcome")
        )
        time.sleep(0.1)


@pytest.mark.parametrize("event", list(EXPECTED))
def test_a_webhook_delivered_twice_and_ten_times_at_once_acts_once(event, sent, site, began):
    make, status, suppressed, withdrawn, source = EXPECTED[event]
    twice, ten = sent["reader1@example.com"], sent["reader2@example.com"]

    # when one reader's event is delivered twice, one after the other
    answers = [post(site, *make(twice, 1)) for _ in range(2)]
    # and the other reader's ten times at once
    started = time.monotonic()
    answers += at_once(AT_ONCE, lambda: post(site, *make(ten, 2)))
    concurrent_seconds = time.monotonic() - started
    processed(2)

    # then every request was answered 200, none with a server error
    assert [status_code for _, status_code in answers] == [200] * (2 + AT_ONCE), answers
    assert_no_5xx_outside(answers)
    # and each event was recorded once and acted once
    assert ProviderEvent.objects.count() == 2
    for delivery in (twice, ten):
        user = delivery.user
        delivery.refresh_from_db()
        assert delivery.status == status
        assert Suppression.objects.filter(address_hash=address_hash(user.email)).count() == (
            1 if suppressed else 0
        )
        ledger = ConsentEvent.objects.filter(subject=user, granted=False)
        assert sorted(ledger.values_list("purpose__code", flat=True)) == sorted(withdrawn)
        assert set(ledger.values_list("source", flat=True)) <= {source}
        still = {code for code, state in consent_status(subject=user).items() if state.granted}
        assert still & set(MARKETING) == set(MARKETING) - set(withdrawn)
        if event == "unsubscribe":
            assert delivery.unsubscribed_at is not None
    # and the promises hold: the fold of the ledger, every change with its record
    assert_invariants(since=began)
    write_figures(
        f"webhook-{event.replace(' ', '-')}",
        {
            "command": "make faults PYTEST_ARGS='-k webhook'",
            "event": event,
            "deliveries": {"one after the other": 2, "at once": AT_ONCE},
            "gunicorn_sync_workers": 3,
            "answers": sorted({status_code for _, status_code in answers}),
            "events_recorded": ProviderEvent.objects.count(),
            "seconds_for_the_ten": round(concurrent_seconds, 2),
        },
    )
