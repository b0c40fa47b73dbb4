"""Sending a notice: a signed POST to the party's endpoint, or the email the outbox holds;
retried with a backoff while the failure is temporary."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communications.models import Delivery
from communications.services import send_delivery
from sharing.notice_signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SigningKeyMissing,
    signature,
    signing_key_for,
)
from sharing.notification_models import (
    AUTOMATIC_METHODS,
    NoticeEvent,
    NoticeMethod,
    RecipientNotification,
)

from .creating import (
    _EMAIL_WAITING,
    ANSWER_KEPT,
    EMAIL_WAIT,
    RETRY_TASK_HORIZON,
    State,
    Step,
    _labels,
    _step,
)

logger = logging.getLogger(__name__)


# What each kind of notice asks the party to do (the payload's "action").
ACTIONS = {
    NoticeEvent.ERASURE: "Erase the personal data you received from us about this person, "
    "unless the law requires you to keep it.",
    NoticeEvent.RECTIFICATION: "Stop using the old details of these kinds and correct or "
    "delete them; we send corrected details only with a new order or request that needs them.",
    NoticeEvent.SERVICE_ENDED: "This person no longer uses the service you provide through "
    "us: stop using the personal data you received from us for it, and erase it unless the "
    "law requires you to keep it or the person uses the service with you directly.",
}


# --- Sending ----------------------------------------------------------------------------------


def send_notification(*, notification_id: int) -> str:
    """Send one notice that is due, by its method; returns its state. Safe to call twice:
    only the call that claims the notice (``SKIP LOCKED``, to *sending*) sends it."""
    now = timezone.now()
    with transaction.atomic():
        notice = (
            RecipientNotification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("party")
            .filter(
                pk=notification_id,
                state__in=[State.TO_NOTIFY, State.RETRYING],
                method__in=AUTOMATIC_METHODS,
            )
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if notice is not None:
            notice.state = State.SENDING
            notice.claimed_at = now
            fields = ["state", "claimed_at"]
            if notice.method == NoticeMethod.ENDPOINT:
                notice.attempts += 1
                fields.append("attempts")
            notice.save(update_fields=fields)
    if notice is None:
        state = (
            RecipientNotification.objects.filter(pk=notification_id)
            .values_list("state", flat=True)
            .first()
        )
        return state or "missing"
    if notice.method == NoticeMethod.ENDPOINT:
        return _post(notice)
    return _email(notice)


def notice_payload(notice: RecipientNotification) -> dict[str, Any]:
    """The JSON body posted to the party (documented in docs/SHARING.md)."""
    return {
        "id": str(notice.notice_id),
        "type": notice.event,
        "occurred_at": notice.occurred_at.isoformat(),
        "controller": settings.SITE_NAME,
        "recipient": notice.party.name,
        "your_references": list(notice.references),
        "categories": list(notice.categories),
        "category_names": _labels(notice.categories),
        "action": ACTIONS[NoticeEvent(notice.event)],
    }


def _post(notice: RecipientNotification) -> str:
    url = notice.party.notification_url
    if not url:
        return _failed(
            notice,
            "The register no longer has an endpoint for this party: notify it by hand.",
            temporary=False,
        )
    try:
        key = signing_key_for(notice.party_id)
    except SigningKeyMissing as error:
        return _failed(notice, str(error), temporary=True)
    body = json.dumps(notice_payload(notice), sort_keys=True, separators=(",", ":")).encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"{settings.SITE_NAME} privacy notices",
        ID_HEADER: str(notice.notice_id),
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: signature(key=key, timestamp=stamp, body=body),
    }
    timeout = settings.SHARING_NOTIFICATION_TIMEOUT
    try:
        with requests.post(
            url,
            data=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            verify=settings.SHARING_NOTIFICATION_CA_BUNDLE or True,
            stream=True,
        ) as response:
            code = response.status_code
            answer = _answer(response)
    except requests.Timeout:
        # It may have arrived: the repeat carries the same id, which the party drops.
        return _failed(notice, f"No answer within {timeout:g} s.", temporary=True)
    except requests.ConnectionError as error:
        return _failed(notice, f"Could not connect: {type(error).__name__}.", temporary=True)
    except requests.RequestException as error:
        return _failed(notice, f"The request could not be made: {error}", temporary=False)
    result = f"HTTP {code}" + (f": {answer}" if answer else "")
    if 200 <= code < 300:
        return _notified(notice, result)
    if code in (408, 429) or code >= 500:
        return _failed(notice, result, temporary=True)
    if 300 <= code < 400:
        result += " (redirects are not followed: correct the endpoint in the register)"
    return _failed(notice, result, temporary=False)


def _answer(response: requests.Response) -> str:
    """The start of the party's answer, on one line, for the result."""
    try:
        start = next(response.iter_content(ANSWER_KEPT * 4), b"")
    except requests.RequestException:
        return ""
    return " ".join(start.decode("utf-8", "replace").split())[:ANSWER_KEPT]


def _backoff(attempts: int) -> float:
    delay: float = settings.SHARING_NOTIFICATION_RETRY_BACKOFF * 2 ** max(0, attempts - 1)
    delay = min(delay, settings.SHARING_NOTIFICATION_RETRY_BACKOFF_MAX)
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


def _notified(
    notice: RecipientNotification,
    result: str,
    *,
    at: datetime | None = None,
    attempts: int | None = None,
) -> str:
    when = at or timezone.now()
    fields = {
        "state": State.NOTIFIED,
        "notified_at": when,
        "result": result,
        "claimed_at": None,
        "next_attempt_at": None,
    }
    if attempts is not None:
        fields["attempts"] = attempts
    with transaction.atomic():
        done = (
            RecipientNotification.objects.filter(pk=notice.pk)
            .exclude(state=State.NOTIFIED)
            .update(**fields)
        )
        if done:
            _step(notice, Step.SENT, result, at=when)
    return State.NOTIFIED


def _failed(notice: RecipientNotification, error: str, *, temporary: bool) -> str:
    """Record a failed try of a notice this worker claimed: back to *retrying* after a
    backoff, or *failed* (at once for a refusal, after the last try for a temporary one)."""
    now = timezone.now()
    attempts = notice.attempts
    if temporary and attempts < settings.SHARING_NOTIFICATION_MAX_ATTEMPTS:
        wait = _backoff(attempts)
        next_at = now + timedelta(seconds=wait)
        state, kind = State.RETRYING, Step.TEMPORARY_FAILURE
        detail = f"Try {attempts}: {error} Next try after {timezone.localtime(next_at):%H:%M:%S}."
    else:
        wait, next_at = 0.0, None
        state, kind = State.FAILED, Step.PERMANENT_FAILURE
        error = f"Gave up after {attempts} tries: {error}" if temporary else error
        detail = f"Try {attempts}: {error}"
    with transaction.atomic():
        mine = RecipientNotification.objects.filter(
            pk=notice.pk, state=State.SENDING, claimed_at=notice.claimed_at
        ).update(state=state, result=error, next_attempt_at=next_at, claimed_at=None)
        if not mine:
            return State.SENDING  # taken back by the sweep meanwhile: its next try decides
        _step(notice, kind, detail, at=now)
    logger.info("notice %s to party %s: %s", notice.notice_id, notice.party_id, detail)
    if state == State.RETRYING and wait <= RETRY_TASK_HORIZON:
        from sharing.tasks import send_notification_task

        send_notification_task.apply_async((notice.pk,), countdown=wait + 0.1)
    return state


def _email(notice: RecipientNotification) -> str:
    """The email went into the outbox with the correction or erasure: relay it if it is
    still queued (the outbox's own relay may be doing so; only one of them sends), then
    record what became of it."""
    assert notice.delivery_id is not None, "a notice by email has its outbox row"
    status = Delivery.objects.values_list("status", flat=True).get(pk=notice.delivery_id)
    if status == Delivery.Status.QUEUED:
        status = send_delivery(delivery_id=notice.delivery_id)
    waited = 0.0
    while status == Delivery.Status.SENDING and waited < EMAIL_WAIT:
        time.sleep(0.2)
        waited += 0.2
        status = Delivery.objects.values_list("status", flat=True).get(pk=notice.delivery_id)
    return _record_email(notice, Delivery.objects.get(pk=notice.delivery_id))


def _record_email(notice: RecipientNotification, delivery: Delivery) -> str:
    now = timezone.now()
    if delivery.status == Delivery.Status.SENT:
        return _notified(
            notice,
            f"Email sent (outbox delivery {delivery.pk}, message {delivery.provider_message_id}).",
            at=delivery.sent_at or now,
            attempts=delivery.attempts,
        )
    if delivery.status in _EMAIL_WAITING:
        # The outbox retries it; the sweep looks again once that retry is due.
        next_at = max(delivery.next_attempt_at or now, now) + timedelta(seconds=5)
        result = (
            f"Waiting in the outbox: {delivery.last_error}"
            if delivery.last_error
            else "Waiting in the outbox."
        )
        with transaction.atomic():
            mine = RecipientNotification.objects.filter(
                pk=notice.pk, state=State.SENDING, claimed_at=notice.claimed_at
            ).update(
                state=State.RETRYING,
                attempts=delivery.attempts,
                result=result,
                next_attempt_at=next_at,
                claimed_at=None,
            )
            if mine and delivery.last_error:
                _step(notice, Step.TEMPORARY_FAILURE, f"Try {delivery.attempts}: {result}", at=now)
        return State.RETRYING if mine else State.SENDING
    error = f"{delivery.get_status_display()}: {delivery.last_error or 'not sent'}"
    with transaction.atomic():
        mine = RecipientNotification.objects.filter(
            pk=notice.pk, state=State.SENDING, claimed_at=notice.claimed_at
        ).update(
            state=State.FAILED,
            attempts=delivery.attempts,
            result=error,
            next_attempt_at=None,
            claimed_at=None,
        )
        if mine:
            _step(notice, Step.PERMANENT_FAILURE, error, at=now)
    return State.FAILED if mine else State.SENDING
