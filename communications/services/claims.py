"""Claims on delivery rows, how far a hand-over got, and what a failed send means for its row.

A sending task claims rows (status *sending*) under a ``SendingClaim`` that records its
process and its PostgreSQL session. Before each hand-over it records on the claim, in one
small statement, what became of the messages so far and which row it is handing over now
(``in_flight``), and it hands nothing over once the claim is gone; the rows themselves are
written once per batch. So when a worker dies, the sweep knows exactly what may
have gone: the row in flight is *uncertain* (at most one per SMTP connection, or the rows of
the one provider call), every other claimed row goes back to the queue, and every finished
one is recorded. A claim whose database session has ended is resolved at the next sweep; one
older than ``EMAIL_SENDING_TIMEOUT`` too (a host that vanished without closing its session).

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
from typing import TypedDict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from communications.models import (
    UNCERTAIN_PREFIX,
    Campaign,
    Delivery,
    SendingClaim,
    message_id_for,
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
    params: list[datetime | int | str | None] = [now, now]
    recorded = ""
    if rows:
        values = ", ".join(["(%s, %s, %s, %s, %s::timestamptz, %s)"] * len(rows))
        params += [value for row in rows for value in row]
        of_claim = "AND d.claim_id = %s" if claim_id is not None else ""
        if claim_id is not None:
            params.append(claim_id)
        recorded = f"""
            UPDATE communications_delivery AS d
               SET status = v.status,
                   provider_message_id = v.provider_id,
                   last_error = v.error,
                   sent_at = CASE WHEN v.status = 'sent' THEN %s ELSE d.sent_at END,
                   next_attempt_at = v.next_at,
                   attempts = d.attempts - v.uncount,
                   claim_id = NULL,
                   updated_at = %s
              FROM (VALUES {values}) AS v(id, status, provider_id, error, next_at, uncount)
             WHERE d.id = v.id::bigint AND d.status = 'sending' {of_claim}
        """  # noqa: S608 - only placeholders are interpolated
    else:
        params = []
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
_FAILURES = {code: failure for failure, code in _CODES.items()}
LOST_DETAILS = "the details were lost with the worker that sent it"


class ClaimProgress:
    """``sending.Progress`` for a claim. Before each message one small statement appends
    what became of the previous ones (a letter each) to the claim and names the one in
    flight; the rows themselves are written in one statement when the batch ends (``finish``),
    or by the sweep from those letters if the worker died. ``order`` is the order the rows
    are handed over in; ``pending`` are results decided before (the gate's refusals)."""

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

    def begin(self, delivery_ids: Sequence[int], done: Sequence[Result]) -> bool:
        letters = "".join(_CODES[None if r.ok else r.failure] for r in done)
        single = len(delivery_ids) == 1
        in_flight = delivery_ids[0] if single else None
        if not self.begun:
            held = SendingClaim.objects.filter(pk=self.claim_id).update(
                hand_over_order=",".join(map(str, self.order)),
                outcomes=letters,
                in_flight=in_flight,
                all_in_flight=not single,
            )
            self.begun = True
        elif connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Not waiting for the disk: see ``resolve_abandoned_claims``.
                cursor.execute(
                    "SET LOCAL synchronous_commit TO OFF; "
                    "UPDATE communications_sendingclaim SET in_flight = %s, "
                    "outcomes = outcomes || %s WHERE id = %s",
                    [in_flight, letters, self.claim_id],
                )
                held = cursor.rowcount
        else:
            held = SendingClaim.objects.filter(pk=self.claim_id).update(
                in_flight=in_flight, outcomes=Concat("outcomes", Value(letters))
            )
        self.in_flight = list(delivery_ids) if held else []
        return bool(held)

    def finish(self, results: Sequence[Result]) -> None:
        """Record every result, once the hand-over returned or raised: a row handed over with
        no result is uncertain, a claimed row never handed over goes back to the queue; then
        the claim is given up."""
        now = timezone.now()
        rows, self.pending = self.pending, []
        rows += [outcome_for(r, self.attempts.get(r.delivery_id, 1), now) for r in results]
        known = {row[0] for row in rows}
        retries = [row[4] for row in rows if row[1] == Status.QUEUED and row[4] is not None]
        self.retry_at = min(retries, default=None)
        with transaction.atomic():
            record(rows, claim_id=self.claim_id)
            lost = [i for i in self.in_flight if i not in known]
            if lost:
                mark_uncertain(Delivery.objects.filter(pk__in=lost, claim_id=self.claim_id), now)
            release(Delivery.objects.filter(claim_id=self.claim_id, status=Status.SENDING), now)
            SendingClaim.objects.filter(pk=self.claim_id).delete()


def _outcomes_kept(claim: SendingClaim, now: datetime) -> list[RowOutcome]:
    """The results a dead worker's claim kept, as rows to record."""
    order = [int(i) for i in claim.hand_over_order.split(",") if i]
    handed = list(zip(order, claim.outcomes, strict=False))
    attempts = dict(
        Delivery.objects.filter(pk__in=[i for i, _ in handed]).values_list("pk", "attempts")
    )
    rows = []
    for delivery_id, code in handed:
        failure = _FAILURES.get(code, Failure.UNCERTAIN)
        if failure is None:
            result = Result(delivery_id, True, message_id_for(delivery_id))
        else:
            error = f"not sent: {LOST_DETAILS}"
            if failure is Failure.UNCERTAIN:
                error = f"no answer ({LOST_DETAILS})"
            result = Result(delivery_id, False, error=error, failure=failure)
        rows.append(outcome_for(result, attempts.get(delivery_id, 1), now))
    return rows


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


def _live_sessions() -> tuple[set[tuple[int, datetime]] | None, datetime | None]:
    """The (pid, start) of every open PostgreSQL session, and when the server started; None
    where it can't be known."""
    if connection.vendor != "postgresql":
        return None, None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, backend_start FROM pg_stat_activity WHERE pid IS NOT NULL")
        live = {(pid, started) for pid, started in cursor.fetchall()}
        cursor.execute("SELECT pg_postmaster_start_time()")
        return live, cursor.fetchone()[0]


class AbandonedClaims(TypedDict):
    uncertain: int  # rows that may have gone
    released: int  # rows back in the queue
    campaigns: list[int]  # the campaigns those rows belong to


def resolve_abandoned_claims() -> AbandonedClaims:
    """Resolve every claim whose holder is gone (see the module's docstring). Returns counts
    and the campaigns whose rows went back to the queue."""
    now = timezone.now()
    too_old = now - timedelta(seconds=settings.EMAIL_SENDING_TIMEOUT)
    live, server_started = _live_sessions()
    uncertain = released = 0
    campaigns: set[int] = set()
    for claim in SendingClaim.objects.order_by("pk"):
        gone = claim.claimed_at < too_old or (
            live is not None
            and claim.db_pid is not None
            and (claim.db_pid, claim.db_session_started) not in live
        )
        if not gone:
            continue
        with transaction.atomic():
            held = SendingClaim.objects.select_for_update().filter(pk=claim.pk).first()
            if held is None:
                continue  # its task finished meanwhile
            rows = Delivery.objects.filter(status=Status.SENDING, claim_id=held.pk)
            campaigns.update(
                rows.exclude(campaign__isnull=True).values_list("campaign_id", flat=True).distinct()
            )
            # Progress is written without waiting for the disk (``ClaimProgress.begin``): it
            # survives the worker, but not a crash of PostgreSQL. A claim older than the
            # server's start may have lost some, so any of its rows may have gone.
            before_restart = (
                server_started is not None
                and held.db_session_started is not None
                and held.db_session_started < server_started
            )
            if held.all_in_flight or before_restart:
                uncertain += mark_uncertain(rows, now)
            else:
                kept = _outcomes_kept(held, now)
                record(kept, claim_id=held.pk)
                uncertain += sum(1 for row in kept if row[3].startswith(UNCERTAIN_PREFIX))
                if held.in_flight is not None:
                    uncertain += mark_uncertain(rows.filter(pk=held.in_flight), now)
            released += release(rows, now)
            held.delete()
            logger.warning(
                "claim %s of %s abandoned: %d uncertain so far, %d back to the queue",
                held.pk,
                held.worker,
                uncertain,
                released,
            )
    if campaigns:
        # Stalled from now: the next ``sweep_campaigns`` sends their rows on at once.
        Campaign.objects.filter(pk__in=campaigns).update(last_batch_at=None)
    return {"uncertain": uncertain, "released": released, "campaigns": sorted(campaigns)}
