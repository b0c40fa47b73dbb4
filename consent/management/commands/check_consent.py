"""Rebuild the current-consent table from the ledger and report, or fix, every difference.

The ledger is the proof; ``CurrentConsent`` is its fold (the last event by id per subject and
purpose), kept in step by the services. This command streams both tables in the same order,
(subject, purpose), and merges them, so memory stays flat however large the ledger grows.
With ``--fix`` it corrects the current table, one subject and purpose at a time under the same
row lock the services take, re-reading the ledger first; it never touches the ledger.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from consent.models import ConsentEvent, CurrentConsent, Purpose

Key = tuple[int, int]  # (subject_id, purpose_id)


@dataclass(frozen=True)
class Decision:
    """The fold of the ledger for one key: its last event."""

    event_id: int
    granted: bool
    legal_basis: str


@dataclass(frozen=True)
class Row:
    """One row of the current table, with the key of the event it points at."""

    id: int
    event_id: int
    granted: bool
    legal_basis: str
    event_key: Key


@dataclass(frozen=True)
class Difference:
    key: Key
    kind: str  # "missing", "extra" or "wrong"
    expected: Decision | None
    found: Row | None

    @property
    def event_of_other_key(self) -> bool:
        return self.found is not None and self.found.event_key != self.key


def _state(granted: bool) -> str:
    return "granted" if granted else "withdrawn"


class Command(BaseCommand):
    help = (
        "Rebuild the current consent table from the ledger and report every difference; "
        "exit non-zero if any is found. --fix corrects the current table (never the ledger)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fix", action="store_true", help="Correct the current table to match the ledger."
        )
        parser.add_argument(
            "--chunk-size", type=int, default=2000, help="Rows fetched per database round trip."
        )

    def handle(self, *args: Any, fix: bool, chunk_size: int, **options: Any) -> None:
        self.codes = dict(Purpose.objects.values_list("pk", "code"))
        with self._snapshot():
            differences = list(self._differences(chunk_size))
            checked = CurrentConsent.objects.count()
        if not differences:
            self.stdout.write(
                self.style.SUCCESS(f"The current table matches the ledger ({checked} rows).")
            )
            return
        for difference in differences:
            self.stdout.write(self._describe(difference))
        if not fix:
            raise CommandError(
                f"{len(differences)} difference(s) between the ledger and the current table; "
                "run check_consent --fix to correct the current table."
            )
        self._fix(differences)

    # --- Finding differences --------------------------------------------------------------------

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Read both tables from one snapshot, so decisions made meanwhile aren't mistaken for
        differences. Inside an outer transaction (tests) the caller's snapshot stands."""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            yield
            return
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield

    def _folded_ledger(self, chunk_size: int) -> Iterator[tuple[Key, Decision]]:
        events = (
            ConsentEvent.objects.order_by("subject_id", "purpose_id", "id")
            .values_list("subject_id", "purpose_id", "id", "granted", "legal_basis")
            .iterator(chunk_size=chunk_size)
        )
        key: Key | None = None
        last: Decision | None = None
        for subject_id, purpose_id, event_id, granted, legal_basis in events:
            if key is not None and key != (subject_id, purpose_id):
                yield key, last
            key, last = (subject_id, purpose_id), Decision(event_id, granted, legal_basis)
        if key is not None:
            yield key, last

    def _current_rows(self, chunk_size: int) -> Iterator[tuple[Key, Row]]:
        rows = (
            CurrentConsent.objects.order_by("subject_id", "purpose_id")
            .values_list(
                "subject_id",
                "purpose_id",
                "id",
                "event_id",
                "granted",
                "legal_basis",
                "event__subject_id",
                "event__purpose_id",
            )
            .iterator(chunk_size=chunk_size)
        )
        for subject_id, purpose_id, pk, event_id, granted, basis, e_subject, e_purpose in rows:
            yield (
                (subject_id, purpose_id),
                Row(pk, event_id, granted, basis, (e_subject, e_purpose)),
            )

    def _differences(self, chunk_size: int) -> Iterator[Difference]:
        """Merge the two streams, both ordered by (subject, purpose)."""
        folded = self._folded_ledger(chunk_size)
        current = self._current_rows(chunk_size)
        fold_item = next(folded, None)
        row_item = next(current, None)
        while fold_item is not None or row_item is not None:
            if row_item is None or (fold_item is not None and fold_item[0] < row_item[0]):
                yield Difference(fold_item[0], "missing", fold_item[1], None)
                fold_item = next(folded, None)
            elif fold_item is None or row_item[0] < fold_item[0]:
                yield Difference(row_item[0], "extra", None, row_item[1])
                row_item = next(current, None)
            else:
                key, expected = fold_item
                found = row_item[1]
                if (found.event_id, found.granted, found.legal_basis) != (
                    expected.event_id,
                    expected.granted,
                    expected.legal_basis,
                ):
                    yield Difference(key, "wrong", expected, found)
                fold_item = next(folded, None)
                row_item = next(current, None)

    def _describe(self, difference: Difference) -> str:
        subject_id, purpose_id = difference.key
        where = f"subject {subject_id}, purpose {self.codes.get(purpose_id, purpose_id)}"
        expected, found = difference.expected, difference.found
        if difference.kind == "missing":
            return (
                f"missing: {where}: the ledger says {_state(expected.granted)} "
                f"(event {expected.event_id}) but there is no current row"
            )
        if difference.kind == "extra":
            return (
                f"extra: {where}: current row {found.id} says {_state(found.granted)} "
                f"(event {found.event_id}) but the ledger has no event"
            )
        return (
            f"wrong: {where}: current row {found.id} says {_state(found.granted)} "
            f"({found.legal_basis}, event {found.event_id}); the ledger says "
            f"{_state(expected.granted)} ({expected.legal_basis}, event {expected.event_id})"
        )

    # --- Fixing ---------------------------------------------------------------------------------

    def _fix(self, differences: list[Difference]) -> None:
        # A row pointing at another key's event may hold the very event some other row needs
        # (the event link is one-to-one): remove those rows first, and add them back as missing.
        first = [d for d in differences if d.kind == "extra" or d.event_of_other_key]
        rest = [d for d in differences if d not in first]
        for difference in first:
            self._repair(difference.key, drop=difference.event_of_other_key)
        for difference in [*[d for d in first if d.event_of_other_key], *rest]:
            self._repair(difference.key)
        left = list(self._recheck(differences))
        fixed = len(differences) - len(left)
        self.stdout.write(self.style.SUCCESS(f"Fixed {fixed} difference(s)."))
        if left:
            for difference in left:
                self.stdout.write(f"not fixed: {self._describe(difference)}")
            raise CommandError(f"{len(left)} difference(s) could not be fixed.")

    @transaction.atomic
    def _repair(self, key: Key, *, drop: bool = False) -> None:
        """Make the current row for ``key`` the fold of the ledger as it is now."""
        subject_id, purpose_id = key
        where = f"subject {subject_id}, purpose {self.codes.get(purpose_id, purpose_id)}"
        # The services lock the subject's current rows before deciding: so do we, then re-read
        # the ledger, so a decision made since the check is kept rather than overwritten.
        row = (
            CurrentConsent.objects.select_for_update()
            .filter(subject_id=subject_id, purpose_id=purpose_id)
            .first()
        )
        latest = (
            ConsentEvent.objects.filter(subject_id=subject_id, purpose_id=purpose_id)
            .order_by("-id")
            .first()
        )
        if row is not None and (latest is None or drop):
            removed = row.pk
            row.delete()
            self.stdout.write(f"fixed: {where}: removed current row {removed}")
            row = None
        if latest is None:
            return
        if row is None:
            if drop:
                return
            CurrentConsent.objects.bulk_create(
                [
                    CurrentConsent(
                        subject_id=subject_id,
                        purpose_id=purpose_id,
                        granted=latest.granted,
                        legal_basis=latest.legal_basis,
                        event=latest,
                        updated_at=latest.occurred_at,
                    )
                ],
                # A decision recorded since the check wrote its own (newer) row: keep that one.
                ignore_conflicts=True,
            )
            self.stdout.write(
                f"fixed: {where}: added the current row, {_state(latest.granted)} "
                f"(event {latest.id})"
            )
        elif (row.event_id, row.granted, row.legal_basis) != (
            latest.id,
            latest.granted,
            latest.legal_basis,
        ):
            CurrentConsent.objects.filter(pk=row.pk).update(
                granted=latest.granted,
                legal_basis=latest.legal_basis,
                event=latest,
                updated_at=latest.occurred_at,
            )
            self.stdout.write(
                f"fixed: {where}: current row {row.id} now {_state(latest.granted)} "
                f"({latest.legal_basis}, event {latest.id})"
            )

    def _recheck(self, differences: list[Difference]) -> Iterator[Difference]:
        for difference in differences:
            subject_id, purpose_id = difference.key
            latest = (
                ConsentEvent.objects.filter(subject_id=subject_id, purpose_id=purpose_id)
                .order_by("-id")
                .values_list("id", "granted", "legal_basis")
                .first()
            )
            row = (
                CurrentConsent.objects.filter(subject_id=subject_id, purpose_id=purpose_id)
                .values_list("event_id", "granted", "legal_basis")
                .first()
            )
            if latest != row:
                yield difference
