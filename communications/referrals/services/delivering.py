"""The worker's side of a referral: open the sealed details, claim the send, hand the email
over once, record what became of it.

Exactly one email, whatever fails:

- The claim is a conditional write on the row (queued → sending) under a row lock; a task
  arriving twice (a redelivery, a retry scheduled twice) finds the row taken or finished and
  sends nothing.
- Just before the hand-over the row is marked ``handing_over``. A worker that dies after that
  leaves the send *uncertain* (the message may have arrived): the redelivered task, or the
  sweep, records that and never sends again. A worker that dies before it leaves a send that
  never went: the redelivered task (``CELERY_TASK_ACKS_LATE``) takes it over once the holder's
  database session is gone.
- A temporary failure (SMTP 4xx, no connection) puts the row back in the queue and schedules
  the task again after the outbox's backoff (``EMAIL_RETRY_BACKOFF``), up to
  ``EMAIL_MAX_ATTEMPTS`` tries; a refusal fails it.

The details exist only in the task's message, so a send whose message is lost (the broker's
data gone) can't be made later: the sweep gives it up once ``REFERRAL_SEND_WINDOW`` has passed
(*expired*). That is the price of keeping nothing; see docs/COMMUNICATIONS.md.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from communications.gate import may_send
from communications.kinds import MessageKind
from communications.ratelimit import acquire
from communications.referrals.mail import hand_over, render_referral
from communications.referrals.models import Referral
from communications.referrals.sealing import Sealed, Unreadable, unseal
from communications.sending import Failure, Result
from communications.services.claims import retry_delay

from .sending import publish

logger = logging.getLogger(__name__)

Status = Referral.Status
UNCERTAIN_CRASH = "the worker stopped while handing it over; it may have arrived"


@sensitive_variables("sealed", "details")
def deliver_referral(*, referral_id: int, sealed: str) -> str:
    """Send the referral's one email if it is due and nobody else is on it; returns the
    referral's status afterwards. Safe to call any number of times."""
    now = timezone.now()
    try:
        details = unseal(sealed)
    except Unreadable:
        # Too old, or sealed under a key no longer configured: it can't be sent, ever.
        Referral.objects.filter(pk=referral_id, status=Status.QUEUED).update(
            status=Status.EXPIRED, finished_at=now, last_error="the sealed details were unreadable"
        )
        return _status_of(referral_id)
    claimed = _claim(referral_id, now)
    if isinstance(claimed, str):
        if claimed == "not_due":
            due = Referral.objects.values_list("next_attempt_at", flat=True).get(pk=referral_id)
            publish(referral_id, sealed, countdown=_seconds_until(due))
            return Status.QUEUED
        return claimed
    try:
        return _send(claimed, details, sealed)
    finally:
        # Still *sending* here only if something raised: uncertain once the hand-over began,
        # else back to the queue for another try.
        _after_error(claimed, sealed)


def _status_of(referral_id: int) -> str:
    return Referral.objects.filter(pk=referral_id).values_list("status", flat=True).first() or (
        "missing"
    )


def _seconds_until(moment: datetime | None) -> float:
    if moment is None:
        return 0.0
    return max(0.0, (moment - timezone.now()).total_seconds()) + 0.1


def _claim(referral_id: int, now: datetime) -> Referral | str:
    """The row, now held by this task; or why not (its status, or "not_due")."""
    with transaction.atomic():
        row = Referral.objects.select_for_update().filter(pk=referral_id).first()
        if row is None:
            return "missing"
        if row.status == Status.SENDING:
            if _holder_alive(row, now):
                return Status.SENDING
            if row.handing_over:
                _close(row, Status.UNCERTAIN, UNCERTAIN_CRASH, now)
                return Status.UNCERTAIN
            # Its holder died before handing anything over: this task takes the send on.
        elif row.status != Status.QUEUED:
            return row.status
        elif row.next_attempt_at is not None and row.next_attempt_at > now:
            return "not_due"
        row.holder_db_pid, row.holder_db_session_started = _session()
        row.status = Status.SENDING
        row.attempts += 1
        row.claimed_at = now
        row.handing_over = False
        row.save(
            update_fields=[
                "holder_db_pid",
                "holder_db_session_started",
                "status",
                "attempts",
                "claimed_at",
                "handing_over",
            ]
        )
    return row


def _session() -> tuple[int | None, datetime | None]:
    if connection.vendor != "postgresql":
        return None, None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (None, None)


def _holder_alive(row: Referral, now: datetime) -> bool:
    """Whether the task holding the row may still be running: its database session is open
    and it claimed the row less than ``EMAIL_SENDING_TIMEOUT`` ago."""
    if row.claimed_at is None or row.claimed_at < now - timedelta(
        seconds=settings.EMAIL_SENDING_TIMEOUT
    ):
        return False
    if connection.vendor != "postgresql" or row.holder_db_pid is None:
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND backend_start = %s",
            [row.holder_db_pid, row.holder_db_session_started],
        )
        return cursor.fetchone() is not None


def _mine(row: Referral) -> QuerySet[Referral]:
    return Referral.objects.filter(pk=row.pk, status=Status.SENDING, claimed_at=row.claimed_at)


def _close(row: Referral, status: str, error: str, now: datetime) -> int:
    return int(
        Referral.objects.filter(pk=row.pk, status=Status.SENDING).update(
            status=status,
            last_error=error[:200],
            finished_at=now,
            handing_over=False,
            holder_db_pid=None,
            holder_db_session_started=None,
        )
    )


@sensitive_variables("details", "sealed", "rendered")
def _send(row: Referral, details: Sealed, sealed: str) -> str:
    now = timezone.now()
    decision = may_send(MessageKind.REFERRAL, None, email=details.friend_email)
    if not decision:
        _finish(row, Status.SUPPRESSED, decision.reason)
        return Status.SUPPRESSED
    assert row.token is not None  # emptied only once the send is finished and long past
    try:
        rendered = render_referral(token=row.token, details=details)
    except Exception as error:
        # The type only: a template error may quote what it was rendering.
        logger.error("referral %s could not be rendered: %s", row.pk, type(error).__name__)
        _finish(row, Status.FAILED, f"rendering failed: {type(error).__name__}")
        return Status.FAILED
    acquire(1)  # the provider's send rate, shared with every other email

    def begin() -> bool:
        return bool(_mine(row).update(handing_over=True))

    result = hand_over(referral_id=row.pk, to=details.friend_email, rendered=rendered, begin=begin)
    return _record(row, result, sealed, now)


@sensitive_variables("sealed")
def _record(row: Referral, result: Result, sealed: str, now: datetime) -> str:
    if result.ok:
        _finish(row, Status.SENT, "")
        return Status.SENT
    logger.warning("referral %s not sent (%s): %s", row.pk, result.failure, result.error)
    if result.failure is Failure.UNCERTAIN:
        _finish(row, Status.UNCERTAIN, f"no answer once handed over ({result.error})")
        return Status.UNCERTAIN
    if result.failure is Failure.PERMANENT:
        _finish(row, Status.FAILED, f"refused ({result.error})")
        return Status.FAILED
    attempts = row.attempts - (1 if result.failure is Failure.NOT_TRIED else 0)
    if attempts >= settings.EMAIL_MAX_ATTEMPTS:
        _finish(row, Status.FAILED, f"gave up after {attempts} attempts ({result.error})")
        return Status.FAILED
    _requeue(row, sealed, attempts=attempts, error=result.error)
    return Status.QUEUED


def _finish(row: Referral, status: str, error: str) -> None:
    _mine(row).update(
        status=status,
        last_error=error[:200],
        finished_at=timezone.now(),
        handing_over=False,
        holder_db_pid=None,
        holder_db_session_started=None,
    )


@sensitive_variables("sealed")
def _requeue(row: Referral, sealed: str, *, attempts: int, error: str) -> None:
    """Back to the queue, due after the backoff, and the task scheduled for then."""
    due = timezone.now() + timedelta(seconds=retry_delay(max(1, attempts)))
    updated = _mine(row).update(
        status=Status.QUEUED,
        attempts=attempts,
        next_attempt_at=due,
        last_error=error[:200],
        handing_over=False,
        holder_db_pid=None,
        holder_db_session_started=None,
        claimed_at=None,
    )
    if updated:
        transaction.on_commit(lambda: publish(row.pk, sealed, countdown=_seconds_until(due)))


@sensitive_variables("sealed")
def _after_error(row: Referral, sealed: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        held = _mine(row).select_for_update().first()
        if held is None:
            return  # recorded as usual
        if held.handing_over:
            _close(held, Status.UNCERTAIN, UNCERTAIN_CRASH, now)
            return
        error = "the send stopped before the hand-over"
        if held.attempts >= settings.EMAIL_MAX_ATTEMPTS:
            _close(held, Status.FAILED, f"gave up after {held.attempts} attempts ({error})", now)
            return
        _requeue(held, sealed, attempts=held.attempts, error=error)
