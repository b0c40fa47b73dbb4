"""Telling the parties that received a person's data that the person corrected or erased it
(UK GDPR Article 19).

``notify_recipients_of_correction`` and ``notify_recipients_of_erasure`` run in the
transaction of the correction or erasure: they read the disclosure log and write one
``RecipientNotification`` per party that received the data concerned, so a correction that
rolls back tells nobody and one that commits is never forgotten. Each notice goes the way the
register says:

- an endpoint (``notification_url``): a worker POSTs a signed JSON notice
  (``sharing.notice_signing``); 2xx is notified, a timeout, a connection failure, 408, 429 or
  5xx is tried again with a backoff until ``SHARING_NOTIFICATION_MAX_ATTEMPTS``, anything
  else (a refusal, a redirect) fails at once;
- an address (``notification_email``): the email is written to the communications outbox in
  the same transaction, and the worker records what became of it (sent, retried by the
  outbox, or failed);
- neither: the notice waits as *to notify* for staff, who record how they told the party
  (``record_notified_by_hand``).

Workers claim a notice with ``SELECT ... FOR UPDATE SKIP LOCKED`` and move it to *sending*
before anything goes, so a task run twice sends once. The sweep (beat, every minute) starts
notices whose task was lost or whose retry is due, takes back claims whose worker is gone,
and forgets each notified notice's references after ``REFERENCES_KEPT_AFTER_NOTICE``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communications.kinds import MessageKind
from communications.models import Delivery
from communications.services import enqueue_email, send_delivery
from privacy_site.auth_user import AuthUser
from privacy_site.masking import mask_address
from privacy_site.staff import is_active_staff
from sharing.models import DataCategory, Disclosure, ThirdParty
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
    BY_HAND_METHODS,
    NoticeEvent,
    NoticeMethod,
    RecipientNotification,
    RecipientNotificationStep,
)

logger = logging.getLogger(__name__)

State = RecipientNotification.State
Step = RecipientNotificationStep.Kind
# What a party asked to act on may still need the references a while after the notice went
# (an email that bounces an hour later, a party that rings to ask which orders): after this
# they are forgotten, and the disclosure log (until erasure) is the only place that has them.
REFERENCES_KEPT_AFTER_NOTICE = timedelta(days=30)
# Seconds a worker waits for a notice email another worker is handing over.
EMAIL_WAIT = 20.0
# A retry due within this many seconds gets its own task; later ones are started by the
# sweep, which runs every minute.
RETRY_TASK_HORIZON = 60.0
# Notices the sweep starts per run, and how old an untried one must be (its own task may
# still be on its way).
SWEEP_LIMIT = 500
SWEEP_UNTRIED_AFTER = timedelta(seconds=60)
# The body of a party's answer kept with the result, at most.
ANSWER_KEPT = 200
# Finished email deliveries, and what they make of the notice.
_EMAIL_WAITING = (Delivery.Status.QUEUED, Delivery.Status.SENDING)


def _delivery_status(notice: RecipientNotification) -> str:
    return notice.delivery.get_status_display().lower() if notice.delivery is not None else ""


class NotificationError(ValueError):
    """A step staff can't take on a notice: the message says why."""


# --- Creating notices ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Received:
    """What one party received of one person, from the disclosure log."""

    party: ThirdParty
    categories: list[str]
    references: list[str]


def _received_by_party(person: AuthUser) -> list[_Received]:
    """Each party that received ``person``'s data, by name: every kind of data it received
    and its references for the person (oldest first, each once)."""
    parties: dict[int, tuple[ThirdParty, set[str], list[str]]] = {}
    for disclosure in (
        Disclosure.objects.filter(person_id=person.pk)
        .select_related("party")
        .order_by("occurred_at", "id")
    ):
        _, categories, references = parties.setdefault(
            disclosure.party_id, (disclosure.party, set(), [])
        )
        categories.update(disclosure.categories)
        if disclosure.reference and disclosure.reference not in references:
            references.append(disclosure.reference)
    return [
        _Received(
            party=party,
            categories=[value for value in DataCategory.values if value in categories],
            references=references,
        )
        for party, categories, references in sorted(
            parties.values(), key=lambda entry: (entry[0].name, entry[0].pk)
        )
    ]


def _method_for(party: ThirdParty) -> str:
    # An endpoint first: the notice is signed, and its answer says it was received.
    if party.notification_url:
        return NoticeMethod.ENDPOINT
    if party.notification_email:
        return NoticeMethod.EMAIL
    return ""


def _labels(categories: Iterable[str]) -> list[str]:
    names = dict(DataCategory.choices)
    return [names.get(value, value) for value in categories]


def _email_context(notice: RecipientNotification) -> dict[str, Any]:
    return {
        "party_name": notice.party.name,
        "event": notice.event,
        "occurred_on": timezone.localdate(notice.occurred_at).strftime("%-d %B %Y"),
        "categories": _labels(notice.categories),
        "references": list(notice.references),
        "notice_id": str(notice.notice_id),
    }


def _step(
    notice: RecipientNotification,
    kind: str,
    detail: str,
    *,
    at: datetime | None = None,
    actor: AuthUser | None = None,
) -> RecipientNotificationStep:
    return RecipientNotificationStep.objects.create(
        notification=notice, kind=kind, at=at or timezone.now(), actor=actor, detail=detail
    )


def _create(
    person: AuthUser, event: str, wanted: set[str] | None, occurred_at: datetime
) -> list[RecipientNotification]:
    notices = []
    for received in _received_by_party(person):
        concerned = [value for value in received.categories if wanted is None or value in wanted]
        if not concerned:
            continue
        party = received.party
        notice = RecipientNotification(
            person_id=person.pk,
            party=party,
            event=event,
            categories=concerned,
            references=received.references,
            occurred_at=occurred_at,
            method=_method_for(party),
        )
        if notice.method == NoticeMethod.EMAIL:
            # Written with the correction or erasure, like every transactional email; sent
            # by the outbox's relay, its result recorded by ``send_notification``.
            notice.delivery = enqueue_email(
                kind=MessageKind.RECIPIENT_NOTICE,
                to_email=party.notification_email,
                context=_email_context(notice),
            )
        notice.save()
        if notice.method == NoticeMethod.ENDPOINT:
            how = f"to be posted, signed, to {party.notification_url}"
        elif notice.method == NoticeMethod.EMAIL:
            how = f"to be emailed to {mask_address(party.notification_email)}"
        else:
            how = "the register has no address or endpoint: to be notified by staff"
        what = ", ".join(_labels(concerned))
        _step(notice, Step.CREATED, f"{notice.get_event_display()} of {what}; {how}.")
        notices.append(notice)
    automatic = [notice.pk for notice in notices if notice.is_automatic]
    if automatic:

        def start() -> None:
            from sharing.tasks import send_notification_task

            for notice_id in automatic:
                send_notification_task.delay(notice_id)

        # Robust: with the broker down the correction still commits; the sweep starts them.
        transaction.on_commit(start, robust=True)
    return notices


def notify_recipients_of_correction(
    *,
    person: AuthUser,
    categories: Iterable[str],
    occurred_at: datetime | None = None,
) -> list[RecipientNotification]:
    """In the transaction of a correction of ``person``'s data of the kinds ``categories``
    (``DataCategory`` values): one notice to each party that received any of those kinds,
    naming the ones it received. Nothing for kinds nobody received."""
    corrected = set(categories)
    unknown = sorted(corrected - set(DataCategory.values))
    if unknown:
        raise ValueError(f"Unknown kinds of data: {', '.join(unknown)}.")
    if not corrected:
        return []
    with transaction.atomic():
        return _create(person, NoticeEvent.RECTIFICATION, corrected, occurred_at or timezone.now())


def notify_recipients_of_erasure(
    *, person: AuthUser, occurred_at: datetime | None = None
) -> list[RecipientNotification]:
    """In the transaction of ``person``'s erasure, before the disclosure log's references are
    emptied: one notice to each party that received any of their data, with its references.
    Notices of earlier corrections not yet given are superseded by these (and forget their
    references): the party is asked to erase, not to correct."""
    when = occurred_at or timezone.now()
    with transaction.atomic():
        notices = _create(person, NoticeEvent.ERASURE, None, when)
        pending = list(
            RecipientNotification.objects.select_for_update()
            .filter(person_id=person.pk, event=NoticeEvent.RECTIFICATION)
            .exclude(state__in=[State.NOTIFIED, State.SUPERSEDED])
        )
        for notice in pending:
            notice.state = State.SUPERSEDED
            notice.references = []
            notice.next_attempt_at = None
            notice.save(update_fields=["state", "references", "next_attempt_at"])
            _step(
                notice,
                Step.SUPERSEDED,
                "The person's data was erased; the erasure notice replaces this one.",
            )
        # Notices already given forget their references now: the person is gone.
        RecipientNotification.objects.filter(person_id=person.pk, state=State.NOTIFIED).exclude(
            references=[]
        ).update(references=[])
        return notices


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
        "action": (
            "Erase the personal data you received from us about this person, unless the law "
            "requires you to keep it."
            if notice.event == NoticeEvent.ERASURE
            else "Stop using the old details of these kinds and correct or delete them; we "
            "send corrected details only with a new order or request that needs them."
        ),
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


# --- The sweep --------------------------------------------------------------------------------


def sweep_notifications() -> dict[str, int]:
    """For beat: take back claims whose worker is gone, record emails that bounced after
    they were sent, forget old references, and start every notice that is due."""
    now = timezone.now()
    released = _release_stale_claims(now)
    bounced = _record_bounces(now)
    forgotten = (
        RecipientNotification.objects.filter(
            state=State.NOTIFIED, notified_at__lt=now - REFERENCES_KEPT_AFTER_NOTICE
        )
        .exclude(references=[])
        .update(references=[])
    )
    due = list(
        RecipientNotification.objects.filter(
            method__in=AUTOMATIC_METHODS, state__in=[State.TO_NOTIFY, State.RETRYING]
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(state=State.RETRYING) | Q(created_at__lte=now - SWEEP_UNTRIED_AFTER))
        .order_by("id")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    if due:
        from sharing.tasks import send_notification_task

        for notice_id in due:
            send_notification_task.delay(notice_id)
    return {
        "released": released,
        "bounced": bounced,
        "references_forgotten": forgotten,
        "started": len(due),
    }


@transaction.atomic
def _release_stale_claims(now: datetime) -> int:
    before = now - timedelta(seconds=settings.SHARING_NOTIFICATION_SENDING_TIMEOUT)
    stale = list(
        RecipientNotification.objects.select_for_update(skip_locked=True).filter(
            state=State.SENDING, claimed_at__lt=before
        )
    )
    for notice in stale:
        notice.state = State.RETRYING
        notice.claimed_at = None
        notice.next_attempt_at = now
        notice.save(update_fields=["state", "claimed_at", "next_attempt_at"])
        # A post may have arrived before the worker died: the repeat has the same id.
        _step(notice, Step.RELEASED, "Its worker stopped; it will be tried again.", at=now)
    return len(stale)


@transaction.atomic
def _record_bounces(now: datetime) -> int:
    """An email counts as notified once the provider took it; a bounce or complaint reported
    afterwards (while the references are still kept) makes the notice failed again, for
    staff to give it another way."""
    bounced = list(
        RecipientNotification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("delivery")
        .filter(
            method=NoticeMethod.EMAIL,
            state=State.NOTIFIED,
            notified_by__isnull=True,
            notified_at__gte=now - REFERENCES_KEPT_AFTER_NOTICE,
            delivery__status__in=[Delivery.Status.BOUNCED, Delivery.Status.COMPLAINED],
        )
    )
    for notice in bounced:
        error = (
            f"The email {_delivery_status(notice)} after it was sent: "
            "check the address in the register and notify the party another way."
        )
        notice.state = State.FAILED
        notice.notified_at = None
        notice.result = error
        notice.save(update_fields=["state", "notified_at", "result"])
        _step(notice, Step.PERMANENT_FAILURE, error, at=now)
    return len(bounced)


# --- By hand ----------------------------------------------------------------------------------


@transaction.atomic
def record_notified_by_hand(
    *,
    notification: RecipientNotification,
    actor: AuthUser,
    method: str,
    note: str,
) -> RecipientNotification:
    """Staff told the party by post or phone (a party with no address or endpoint, or one
    whose notice failed): recorded with who, how and what, in the notice and its steps.
    Raises ``NotificationError`` (nothing written)."""
    if not is_active_staff(actor, "sharing.record_recipientnotification"):
        raise NotificationError("You may not record notices given by hand.")
    if method not in BY_HAND_METHODS:
        raise NotificationError("Say whether the party was told by post or by phone.")
    note = " ".join(note.split())
    if not note:
        raise NotificationError("Say what was sent or said, and to whom.")
    locked = RecipientNotification.objects.select_for_update().get(pk=notification.pk)
    if locked.state == State.NOTIFIED:
        raise NotificationError(f"Notice {locked.notice_id} was already given.")
    if locked.state == State.SUPERSEDED:
        raise NotificationError(
            f"Notice {locked.notice_id} was superseded by an erasure notice: give that one."
        )
    if locked.state == State.SENDING:
        raise NotificationError(
            f"Notice {locked.notice_id} is being sent right now: look again in a minute."
        )
    now = timezone.now()
    locked.state = State.NOTIFIED
    locked.method = method
    locked.notified_at = now
    locked.notified_by = actor
    locked.next_attempt_at = None
    locked.result = note[:2000]
    locked.save(
        update_fields=["state", "method", "notified_at", "notified_by", "next_attempt_at", "result"]
    )
    how = locked.get_method_display()
    _step(locked, Step.RECORDED_BY_HAND, f"{how}: {note}", at=now, actor=actor)
    for field in ("state", "method", "notified_at", "notified_by_id", "result"):
        setattr(notification, field, getattr(locked, field))
    return locked
