"""The sweep (beat, every minute) and the notices staff record by hand."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communications.models import Delivery
from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff
from sharing.notification_models import (
    AUTOMATIC_METHODS,
    BY_HAND_METHODS,
    NoticeMethod,
    RecipientNotification,
)

from .creating import (
    REFERENCES_KEPT_AFTER_NOTICE,
    SWEEP_LIMIT,
    SWEEP_UNTRIED_AFTER,
    NotificationError,
    State,
    Step,
    _delivery_status,
    _step,
)

logger = logging.getLogger(__name__)


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
