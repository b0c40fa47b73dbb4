"""Creating the notices: one per party that received the data concerned, in the transaction
of the correction or erasure; and what the other steps share."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from communications.kinds import MessageKind
from communications.models import Delivery
from communications.services import enqueue_email
from privacy_site.auth_user import AuthUser
from privacy_site.masking import mask_address
from sharing.models import DataCategory, Disclosure, ThirdParty
from sharing.notification_models import (
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


def _new_notice(
    *,
    person: AuthUser,
    party: ThirdParty,
    event: str,
    categories: list[str],
    references: list[str],
    occurred_at: datetime,
) -> RecipientNotification:
    """One notice, with its email in the outbox if the party has an address, and its
    *created* step."""
    notice = RecipientNotification(
        person_id=person.pk,
        party=party,
        event=event,
        categories=categories,
        references=references,
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
    what = ", ".join(_labels(categories))
    _step(notice, Step.CREATED, f"{notice.get_event_display()}: {what}; {how}.")
    return notice


def _start(notices: list[RecipientNotification]) -> None:
    """Once the transaction commits, a task for each notice a worker sends."""
    automatic = [notice.pk for notice in notices if notice.is_automatic]
    if automatic:

        def start() -> None:
            from sharing.tasks import send_notification_task

            for notice_id in automatic:
                send_notification_task.delay(notice_id)

        # Robust: with the broker down the correction still commits; the sweep starts them.
        transaction.on_commit(start, robust=True)


def _create(
    person: AuthUser, event: str, wanted: set[str] | None, occurred_at: datetime
) -> list[RecipientNotification]:
    notices = []
    for received in _received_by_party(person):
        concerned = [value for value in received.categories if wanted is None or value in wanted]
        if not concerned:
            continue
        notices.append(
            _new_notice(
                person=person,
                party=received.party,
                event=event,
                categories=concerned,
                references=received.references,
                occurred_at=occurred_at,
            )
        )
    _start(notices)
    return notices


def notify_party_of_leaving(
    *,
    person: AuthUser,
    party: ThirdParty,
    categories: Iterable[str],
    reference: str,
    occurred_at: datetime,
) -> RecipientNotification:
    """In the transaction in which ``person`` leaves a service ``party`` provides for us
    (Jessops Photo): one notice telling the party, under its ``reference`` for the person,
    that it no longer has a purpose for the kinds of data ``categories`` it received for
    the service. Sent like the other notices (endpoint, email or staff)."""
    wanted = set(categories)
    unknown = sorted(wanted - set(DataCategory.values))
    if unknown or not wanted:
        raise ValueError(f"Name the kinds of data the party received: {', '.join(unknown)}.")
    with transaction.atomic():
        notice = _new_notice(
            person=person,
            party=party,
            event=NoticeEvent.SERVICE_ENDED,
            categories=[value for value in DataCategory.values if value in wanted],
            references=[reference],
            occurred_at=occurred_at,
        )
        _start([notice])
        return notice


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
    Notices of earlier corrections, and of leaving a service, not yet given are superseded
    by these (and forget their references): the party is asked to erase, which covers
    both."""
    when = occurred_at or timezone.now()
    with transaction.atomic():
        notices = _create(person, NoticeEvent.ERASURE, None, when)
        pending = list(
            RecipientNotification.objects.select_for_update()
            .filter(
                person_id=person.pk,
                event__in=[NoticeEvent.RECTIFICATION, NoticeEvent.SERVICE_ENDED],
            )
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
