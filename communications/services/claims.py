"""Claims on delivery rows, how far a hand-over got, and what a failed send means for its row.

A sending task claims rows (status *sending*) under a ``SendingClaim`` that records its
process and its PostgreSQL session. Before each hand-over it records on the claim, in one
small statement, what became of the messages so far and which row it is handing over now
(``in_flight``), and it hands nothing over once the claim is gone; the rows themselves are
written once per batch. So when a worker dies, the sweep knows exactly what may
have gone: the row in flight is *uncertain* (at most one per SMTP connection, or the rows of
the one provider call), every other claimed row goes back to the queue, and every finished
one is recorded. A claim whose database session has ended is resolved at the next sweep; one
older than ``EMAIL_SENDING_TIMEOUT`` too (a host that vanished without closing its session):
``abandoned_claims``.

A temporary failure goes back to the queue, not before ``next_attempt_at`` (exponential
backoff with jitter: ``EMAIL_RETRY_BACKOFF`` doubled per try, at most
``EMAIL_RETRY_BACKOFF_MAX``), until ``EMAIL_MAX_ATTEMPTS`` tries; a permanent one fails; an
uncertain one fails with ``last_error`` starting "uncertain:" and is never sent again.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from communications.models import (
    UNCERTAIN_PREFIX,
    Delivery,
    SendingClaim,
)
from communications.sending import Failure, Result

logger = logging.getLogger(__name__)

Status = Delivery.Status
UNCERTAIN = f"{UNCERTAIN_PREFIX} the worker stopped while sending; it may or may not have gone"

# (delivery id, status, provider message id, error, next attempt, 1 if the try doesn't count)
RowOutcome = tuple[int, str, str, str, datetime | None, int]


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` tries: doubling from
    ``EMAIL_RETRY_BACKOFF``, capped at ``EMAIL_RETRY_BACKOFF_MAX``, with half of it random
    so that rows deferred together don't come back together."""
    base: float = settings.EMAIL_RETRY_BACKOFF * 2 ** max(0, attempts - 1)
    delay: float = min(settings.EMAIL_RETRY_BACKOFF_MAX, base)
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


def outcome_for(result: Result, attempts: int, now: datetime) -> RowOutcome:
    """What a send's result makes of its row, after ``attempts`` tries (this one included)."""
    if result.ok:
        return (result.delivery_id, Status.SENT, result.provider_message_id, "", None, 0)
    if result.failure is Failure.UNCERTAIN:
        error = (
            f"{UNCERTAIN_PREFIX} no answer once the message was handed over; "
            f"it may have arrived ({result.error})"
        )
        return (result.delivery_id, Status.FAILED, "", error[:1000], None, 0)
    if result.failure is Failure.NOT_TRIED:
        later = now + timedelta(seconds=retry_delay(attempts))
        return (result.delivery_id, Status.QUEUED, "", result.error, later, 1)
    if result.failure is Failure.TEMPORARY:
        if attempts >= settings.EMAIL_MAX_ATTEMPTS:
            error = f"gave up after {attempts} attempts: {result.error}"[:1000]
            return (result.delivery_id, Status.FAILED, "", error, None, 0)
        later = now + timedelta(seconds=retry_delay(attempts))
        return (result.delivery_id, Status.QUEUED, "", result.error, later, 0)
    return (result.delivery_id, Status.FAILED, "", result.error, None, 0)


def worker_name() -> str:
    """host:pid of this process, as a claim names its holder."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def open_claim(now: datetime) -> SendingClaim:
    """A claim held by this process and its database session (in the caller's transaction,
    on the connection the sending task goes on using)."""
    db_pid = started = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            )
            row = cursor.fetchone()
        if row:
            db_pid, started = row
    return SendingClaim.objects.create(
        worker=worker_name(),
        db_pid=db_pid,
        db_session_started=started,
        claimed_at=now,
    )


def record(
    rows: Sequence[RowOutcome],
    *,
    claim_id: int | None = None,
    in_flight: int | None = None,
    all_in_flight: bool = False,
) -> bool:
    """Write rows' results (only rows still *sending*, and of ``claim_id`` if given) and, with
    a claim, mark what is handed over next, in one statement. Returns False if the claim is
    gone (the sweep resolved it): then nothing more may be handed over."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        return _record_portably(rows, claim_id, in_flight, all_in_flight, now)
    recorded, params = _recorded(rows, claim_id, now) if rows else ("", [])
    with connection.cursor() as cursor:
        if claim_id is None:
            if rows:
                cursor.execute(recorded, params)
            return True
        statement = (
            "UPDATE communications_sendingclaim SET in_flight = %s, all_in_flight = %s "
            "WHERE id = %s RETURNING id"
        )
        if rows:
            statement = f"WITH recorded AS ({recorded}) {statement}"
        cursor.execute(statement, [*params, in_flight, all_in_flight, claim_id])
        return cursor.fetchone() is not None


def _recorded(
    rows: Sequence[RowOutcome], claim_id: int | None, now: datetime
) -> tuple[str, list[Any]]:
    """The UPDATE writing ``rows`` (still *sending*, of ``claim_id`` if given), each column
    passed as one array: six parameters however many rows."""
    columns: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)] or [
        [] for _ in range(6)
    ]
    params: list[Any] = [now, now, *columns]
    of_claim = ""
    if claim_id is not None:
        of_claim = "AND d.claim_id = %s"
        params.append(claim_id)
    statement = f"""
        UPDATE communications_delivery AS d
           SET status = v.status,
               provider_message_id = v.provider_id,
               last_error = v.error,
               sent_at = CASE WHEN v.status = 'sent' THEN %s ELSE d.sent_at END,
               next_attempt_at = v.next_at,
               attempts = d.attempts - v.uncount,
               claim_id = NULL,
               updated_at = %s
          FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                      %s::int[]) AS v(id, status, provider_id, error, next_at, uncount)
         WHERE d.id = v.id AND d.status = 'sending' {of_claim}
         RETURNING d.id
    """  # noqa: S608 - only placeholders are interpolated
    return statement, params


def finish_claim(rows: Sequence[RowOutcome], claim_id: int) -> None:
    """The end of a batch, in one statement: write ``rows``' results, put the claim's other
    rows still *sending* back to the queue (never handed over: the try not counted), and
    give the claim up."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        with transaction.atomic():
            record(rows, claim_id=claim_id)
            release(Delivery.objects.filter(claim_id=claim_id, status=Status.SENDING), now)
            SendingClaim.objects.filter(pk=claim_id).delete()
        return
    recorded, params = _recorded(rows, claim_id, now)
    statement = f"""
        WITH recorded AS ({recorded}),
        released AS (
            UPDATE communications_delivery AS d
               SET status = 'queued', claimed_at = NULL, claim_id = NULL,
                   attempts = d.attempts - 1, updated_at = %s
             WHERE d.claim_id = %s AND d.status = 'sending' AND d.id <> ALL(%s::bigint[])
        )
        DELETE FROM communications_sendingclaim WHERE id = %s
    """  # noqa: S608 - only placeholders are interpolated
    done = [row[0] for row in rows]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, now, claim_id, done, claim_id])


def _record_portably(
    rows: Sequence[RowOutcome],
    claim_id: int | None,
    in_flight: int | None,
    all_in_flight: bool,
    now: datetime,
) -> bool:
    with transaction.atomic():
        for delivery_id, status, provider_id, error, next_at, uncount in rows:
            mine = Delivery.objects.filter(pk=delivery_id, status=Status.SENDING)
            if claim_id is not None:
                mine = mine.filter(claim_id=claim_id)
            mine.update(
                status=status,
                provider_message_id=provider_id,
                last_error=error,
                sent_at=now if status == Status.SENT else None,
                next_attempt_at=next_at,
                attempts=F("attempts") - uncount,
                claim_id=None,
                updated_at=now,
            )
        if claim_id is None:
            return True
        return bool(
            SendingClaim.objects.filter(pk=claim_id).update(
                in_flight=in_flight, all_in_flight=all_in_flight
            )
        )


# What became of each message handed over, one letter each, as a claim keeps them.
_CODES = {None: "s", Failure.PERMANENT: "p", Failure.TEMPORARY: "t", Failure.UNCERTAIN: "u"}
_CODES[Failure.NOT_TRIED] = "n"
FAILURES = {code: failure for failure, code in _CODES.items()}
REFUSED = "r"  # a claimed row the gate refused: never handed over
# The progress statement, parsed and planned by PostgreSQL once per session.
_PROGRESS = "communications_claim_progress"
_PREPARE_PROGRESS = (
    "PREPARE communications_claim_progress (bigint, boolean, text, bigint) AS "
    "UPDATE communications_sendingclaim SET in_flight = $1, all_in_flight = $2, "
    "outcomes = outcomes || $3 WHERE id = $4"
)
_PROGRESS_WITHOUT_WAITING_FOR_THE_DISK = (
    "SET LOCAL synchronous_commit TO OFF; EXECUTE communications_claim_progress (%s, %s, %s, %s)"
)


class ClaimProgress:
    """``sending.Progress`` for a claim. Before each message one small statement appends
    what became of the previous ones (a letter each) to the claim and names the one in
    flight; the rows themselves are written in one statement when the batch ends (``finish``),
    or by the sweep from those letters if the worker died. ``order`` is the order the rows
    are handed over in; ``pending`` are results decided before (the gate's refusals).

    The letters stand for the claim's rows in id order, a refused row as ``r`` (back to the
    queue, where the gate is asked again), when the rows are handed over in id order, as a
    campaign batch hands them over: the claim row stays a few hundred bytes, and each update
    of it is cheap. Otherwise the order is written on the claim once (``hand_over_order``)."""

    def __init__(
        self,
        claim_id: int,
        attempts: dict[int, int],
        pending: Iterable[RowOutcome],
        order: Sequence[int],
    ):
        self.claim_id = claim_id
        self.attempts = attempts
        self.pending = list(pending)
        self.order = list(order)
        self.begun = False
        self.in_flight: list[int] = []
        # When the first row this batch put back for another try is due (after ``finish``).
        self.retry_at: datetime | None = None
        claimed = sorted(attempts)
        self.positional = self.order == sorted(self.order) and set(self.order) <= set(claimed)
        self._claimed = claimed
        self._lettered = 0  # how many of ``_claimed`` have a letter on the claim
        # The DB-API connection and the cursor the progress statements go through.
        self._open_cursor: tuple[Any, CursorWrapper] | None = None

    def _letters(self, done: Sequence[Result]) -> str:
        codes = [_CODES[None if r.ok else r.failure] for r in done]
        if not self.positional:
            return "".join(codes)
        out = []
        for result, code in zip(done, codes, strict=True):
            while self._claimed[self._lettered] != result.delivery_id:
                out.append(REFUSED)
                self._lettered += 1
            out.append(code)
            self._lettered += 1
        return "".join(out)

    def begin(self, delivery_ids: Sequence[int], done: Sequence[Result]) -> bool:
        letters = self._letters(done)
        single = len(delivery_ids) == 1
        in_flight = delivery_ids[0] if single else None
        if not self.begun and not self.positional:
            held = SendingClaim.objects.filter(pk=self.claim_id).update(
                hand_over_order=",".join(map(str, self.order)),
                outcomes=letters,
                in_flight=in_flight,
                all_in_flight=not single,
            )
        elif connection.vendor == "postgresql":
            cursor = self._cursor()
            # Not waiting for the disk: see ``abandoned_claims``.
            cursor.execute(
                _PROGRESS_WITHOUT_WAITING_FOR_THE_DISK,
                [in_flight, not single, letters, self.claim_id],
            )
            held = cursor.rowcount
        else:
            held = SendingClaim.objects.filter(pk=self.claim_id).update(
                in_flight=in_flight,
                all_in_flight=not single,
                outcomes=Concat("outcomes", Value(letters)),
            )
        self.begun = True
        self.in_flight = list(delivery_ids) if held else []
        return bool(held)

    def _cursor(self) -> CursorWrapper:
        """One cursor for the batch's progress statements, new if the connection was opened
        again (a cursor per message was a third of the statement's CPU in the worker), with
        the statement prepared on its session."""
        if self._open_cursor is None or self._open_cursor[0] is not connection.connection:
            cursor = connection.cursor()
            cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [_PROGRESS])
            if cursor.fetchone() is None:
                cursor.execute(_PREPARE_PROGRESS)
            self._open_cursor = (connection.connection, cursor)
        return self._open_cursor[1]

    def finish(self, results: Sequence[Result]) -> None:
        """Record every result, once the hand-over returned or raised: a row handed over with
        no result is uncertain, a claimed row never handed over goes back to the queue; then
        the claim is given up."""
        if self._open_cursor is not None:
            _, cursor = self._open_cursor
            self._open_cursor = None
            try:
                cursor.close()
            except Exception:  # a broken connection: the statements below say so
                logger.debug("closing the progress cursor failed", exc_info=True)
        now = timezone.now()
        rows, self.pending = self.pending, []
        rows += [outcome_for(r, self.attempts.get(r.delivery_id, 1), now) for r in results]
        known = {row[0] for row in rows}
        retries = [row[4] for row in rows if row[1] == Status.QUEUED and row[4] is not None]
        self.retry_at = min(retries, default=None)
        lost = [i for i in self.in_flight if i not in known]
        if not lost:
            finish_claim(rows, self.claim_id)
            return
        with transaction.atomic():
            record(rows, claim_id=self.claim_id)
            mark_uncertain(Delivery.objects.filter(pk__in=lost, claim_id=self.claim_id), now)
            release(Delivery.objects.filter(claim_id=self.claim_id, status=Status.SENDING), now)
            SendingClaim.objects.filter(pk=self.claim_id).delete()


def mark_uncertain(rows: QuerySet[Delivery], now: datetime, error: str = UNCERTAIN) -> int:
    """Rows that may have gone: failed, reported, never sent again. A message to a bare
    address forgets it, as when it finishes."""
    rows = rows.filter(status=Status.SENDING)
    bare = rows.filter(user__isnull=True).update(
        status=Status.FAILED,
        last_error=error,
        claim_id=None,
        updated_at=now,
        to_email="",
        context={},
    )
    return bare + rows.update(status=Status.FAILED, last_error=error, claim_id=None, updated_at=now)


def release(rows: QuerySet[Delivery], now: datetime) -> int:
    """Claimed rows never handed over: back to the queue, the try not counted."""
    return rows.filter(status=Status.SENDING).update(
        status=Status.QUEUED,
        claimed_at=None,
        claim_id=None,
        attempts=F("attempts") - 1,
        updated_at=now,
    )
