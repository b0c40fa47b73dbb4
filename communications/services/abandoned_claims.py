"""Claims whose holder is gone: the sweep records what their letters say, marks the row in
flight uncertain and puts the rest back in the queue (see ``claims`` for how a claim keeps
its progress)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TypedDict

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from communications.models import UNCERTAIN_PREFIX, Campaign, Delivery, SendingClaim, message_id_for
from communications.sending import Failure, Result
from communications.services.claims import (
    FAILURES,
    REFUSED,
    RowOutcome,
    mark_uncertain,
    outcome_for,
    record,
    release,
)

logger = logging.getLogger(__name__)

Status = Delivery.Status
LOST_DETAILS = "the details were lost with the worker that sent it"


def _outcomes_kept(claim: SendingClaim, now: datetime) -> list[RowOutcome]:
    """The results a dead worker's claim kept, as rows to record."""
    if claim.hand_over_order:
        order = [int(i) for i in claim.hand_over_order.split(",") if i]
        attempts = dict(
            Delivery.objects.filter(pk__in=order[: len(claim.outcomes)]).values_list(
                "pk", "attempts"
            )
        )
        handed = list(zip(order, claim.outcomes, strict=False))
    else:
        # The letters stand for every row the claim took, in id order (``finish`` gives the
        # claim up in the statement that records them). A row may have left "sending" since
        # (a bounce of a row already handed over, matched by its Message-ID): it keeps its
        # letter's place, or every letter after it would land on the wrong row; ``record``
        # writes only rows still sending, so its new status stays.
        claimed = (
            Delivery.objects.filter(claim_id=claim.pk).order_by("pk").values_list("pk", "attempts")
        )
        lettered = list(zip(claimed, claim.outcomes, strict=False))
        attempts = {pk: tries for (pk, tries), _ in lettered}
        handed = [(pk, code) for (pk, _), code in lettered if code != REFUSED]
    rows = []
    for delivery_id, code in handed:
        failure = FAILURES.get(code, Failure.UNCERTAIN)
        if failure is None:
            result = Result(delivery_id, True, message_id_for(delivery_id))
        else:
            error = f"not sent: {LOST_DETAILS}"
            if failure is Failure.UNCERTAIN:
                error = f"no answer ({LOST_DETAILS})"
            result = Result(delivery_id, False, error=error, failure=failure)
        rows.append(outcome_for(result, attempts.get(delivery_id, 1), now))
    return rows


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
            claim_id = held.pk
            if held.all_in_flight or before_restart:
                claim_uncertain = mark_uncertain(rows, now)
            else:
                kept = _outcomes_kept(held, now)
                record(kept, claim_id=claim_id)
                claim_uncertain = sum(1 for row in kept if row[3].startswith(UNCERTAIN_PREFIX))
                if held.in_flight is not None:
                    claim_uncertain += mark_uncertain(rows.filter(pk=held.in_flight), now)
            claim_released = release(rows, now)
            held.delete()
            uncertain += claim_uncertain
            released += claim_released
            logger.warning(
                "claim %s of %s abandoned: %d uncertain, %d back to the queue",
                claim_id,
                held.worker,
                claim_uncertain,
                claim_released,
            )
    if campaigns:
        # Stalled from now: the next ``sweep_campaigns`` sends their rows on at once.
        Campaign.objects.filter(pk__in=campaigns).update(last_batch_at=None)
    return {"uncertain": uncertain, "released": released, "campaigns": sorted(campaigns)}
