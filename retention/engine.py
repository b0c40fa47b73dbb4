"""Running a retention rule: in bounded batches, each its own short transaction.

- A batch selects at most ``batch`` due rows, in key order after the last batch's and
  among the next few thousand keys of the table (so that each batch costs the same, however
  far the run has gone; a window with nothing due is passed over in its own query), locked
  ``FOR UPDATE SKIP LOCKED`` (a row another transaction holds is left for the next run), then
  deletes, trims or pseudonymises them and adds its counts to the run record, all in one
  transaction. A process killed at any point loses at most its open batch, which rolls back:
  the next run finds those rows still due and finishes them. A row already dealt with is no
  longer due, so running twice changes nothing the second time.
- Rows whose person is under a legal hold in force are never selected; they are counted as
  skipped in the run record.
- One run per rule at a time (a PostgreSQL advisory lock); a run record left "running" by a
  process that died is marked interrupted by the next run.
- On PostgreSQL each batch names its rule and cutoff to the database (transaction-local
  settings), which is what the append-only tables' triggers check before they let the
  schedule's change through.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from retention.models import LegalHold, RetentionRun
from retention.rules import Action, Rule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    rule: str
    cutoff: datetime
    due: int  # rows due now and not held (for a dry run: what a run would change)
    held: int  # rows due but kept for a legal hold
    deleted: int = 0
    trimmed: int = 0
    run_id: int | None = None
    ran: bool = True  # False: another run of the rule was going on


class AlreadyRunning(Exception):
    pass


def held_people(now: datetime) -> QuerySet[Any]:
    return LegalHold.objects.in_force(now).values("person_id")


def not_held(rule: Rule, rows: QuerySet[Any], now: datetime) -> QuerySet[Any]:
    if not rule.person:
        return rows
    return rows.exclude(**{f"{rule.person}__in": held_people(now)})


def held(rule: Rule, rows: QuerySet[Any], now: datetime) -> QuerySet[Any]:
    if not rule.person:
        return rows.none()
    return rows.filter(**{f"{rule.person}__in": held_people(now)})


def preview(rule: Rule, *, now: datetime | None = None) -> Outcome:
    """What a run would do now, changing nothing."""
    now = now or timezone.now()
    due = rule.due(now)
    return Outcome(
        rule=rule.key,
        cutoff=rule.cutoff(now),
        due=not_held(rule, due, now).count(),
        held=held(rule, due, now).count(),
        ran=False,
    )


def run(
    rule: Rule,
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> Outcome:
    """Forget what ``rule`` says is due; one run record. ``max_batches`` stops early (the
    next run goes on), for tests and for a run that must fit a window."""
    now = now or timezone.now()
    cutoff = rule.cutoff(now)
    size = batch_size or rule.batch
    with _one_run_at_a_time(rule) as mine:
        if not mine:
            logger.info("retention %s: another run is going on; not started", rule.key)
            return Outcome(rule=rule.key, cutoff=cutoff, due=0, held=0, ran=False)
        RetentionRun.objects.filter(rule=rule.key, outcome=RetentionRun.Outcome.RUNNING).update(
            outcome=RetentionRun.Outcome.INTERRUPTED
        )
        record = RetentionRun.objects.create(
            rule=rule.key, started_at=timezone.now(), cutoff=cutoff
        )
        changed = 0
        try:
            changed = _batches(rule, record, now, size, max_batches)
            kept = held(rule, rule.due(now), now).count()
        except BaseException as error:
            RetentionRun.objects.filter(pk=record.pk).update(
                outcome=RetentionRun.Outcome.FAILED,
                finished_at=timezone.now(),
                error=type(error).__name__[:200],
            )
            raise
        RetentionRun.objects.filter(pk=record.pk).update(
            outcome=RetentionRun.Outcome.FINISHED, finished_at=timezone.now(), skipped_held=kept
        )
    deleted = changed if rule.action is Action.DELETE else 0
    logger.info("retention %s: %s changed, %s held", rule.key, changed, kept)
    return Outcome(
        rule=rule.key,
        cutoff=cutoff,
        due=changed,
        held=kept,
        deleted=deleted,
        trimmed=changed - deleted,
        run_id=record.pk,
    )


# A batch looks for due rows among the next this many keys of the table at most (or
# WINDOW_BATCHES batches' worth, if more): see ``_window_end``.
WINDOW_ROWS = 1000
WINDOW_BATCHES = 4


def _batches(
    rule: Rule, record: RetentionRun, now: datetime, size: int, max_batches: int | None
) -> int:
    changed = 0
    after: Any = None
    batches = 0
    counter = "deleted" if rule.action is Action.DELETE else "trimmed"
    while max_batches is None or batches < max_batches:
        upper = _window_end(rule, after, max(WINDOW_ROWS, WINDOW_BATCHES * size))
        started = time.monotonic()
        with transaction.atomic():
            _name_the_change(rule, rule.cutoff(now))
            rows = not_held(rule, rule.due(now), now)
            if after is not None:
                rows = rows.filter(pk__gt=after)
            if upper is not None:
                rows = rows.filter(pk__lte=upper)
            pks = list(
                rows.order_by("pk")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)[:size]
            )
            if pks:
                done = rule.apply(pks)
                elapsed = int((time.monotonic() - started) * 1000)
                RetentionRun.objects.filter(pk=record.pk).update(
                    batches=F("batches") + 1,
                    longest_batch_ms=Greatest(F("longest_batch_ms"), elapsed),
                    **{counter: F(counter) + done},
                )
        if not pks:
            if upper is None:
                break
            after = upper  # nothing due in this window: on to the next
            continue
        changed += done
        batches += 1
        after = pks[-1]
    return changed


def _window_end(rule: Rule, after: Any, window: int) -> Any:
    """The key ``window`` rows of the table after ``after``; None if the table ends first.

    Bounding each batch's keys above as well as below keeps its cost flat over the run:
    without it, a rule whose "still to do" test is a subquery (an account with no verified
    address) let the planner merge-join the whole related table from its start on every batch,
    so each batch read all the rows before ``after`` again (0.1 s per batch halfway through a
    million accounts, growing with the table). Within a window of a few thousand keys the
    subquery is an index lookup per row."""
    keys = rule.model_class._default_manager.order_by("pk")
    if after is not None:
        keys = keys.filter(pk__gt=after)
    return next(iter(keys.values_list("pk", flat=True)[window - 1 : window]), None)


def _name_the_change(rule: Rule, cutoff: datetime) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('privacy_site.retention_rule', %s, true),"
            " set_config('privacy_site.retention_cutoff', %s, true)",
            [rule.key, cutoff.isoformat()],
        )


@contextmanager
def _one_run_at_a_time(rule: Rule) -> Iterator[bool]:
    if connection.vendor != "postgresql":
        yield True
        return
    key = zlib.crc32(f"retention:{rule.key}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (mine,) = cursor.fetchone()
    try:
        yield bool(mine)
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
