"""The current-consent table checked against the ledger, and repaired from it.

The ledger is the proof; ``CurrentConsent`` is its fold (the last event by id per subject and
purpose), kept in step by the ledger services. ``check_current_consent`` streams both tables in
the same order, (subject, purpose), and merges them, so memory stays flat however large the
ledger grows. ``repair_current_consent`` corrects the current table one subject and purpose at
a time, under the same row lock the ledger services take, re-reading the ledger first; it never
touches the ledger. The ``check_consent`` command runs both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from django.db import connection, transaction

from consent.models import ConsentEvent, CurrentConsent, Purpose

Key = tuple[int, int]  # (subject_id, purpose_id)
DifferenceKind = Literal["missing", "extra", "wrong"]


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
class ConsentDifference:
    """``missing``: the ledger has a decision and the current table no row; ``extra``: a row
    with no decision behind it; ``wrong``: a row that is not the ledger's last decision."""

    key: Key
    purpose: str  # the purpose's code
    kind: DifferenceKind
    expected: Decision | None
    found: Row | None

    @property
    def subject_id(self) -> int:
        return self.key[0]

    @property
    def event_of_other_key(self) -> bool:
        return self.found is not None and self.found.event_key != self.key


@dataclass(frozen=True)
class ConsentCheck:
    differences: list[ConsentDifference]
    rows_checked: int


@dataclass(frozen=True)
class ConsentRepair:
    """One correction of the current table: a row removed, added, or updated to the event."""

    key: Key
    purpose: str
    action: Literal["removed", "added", "updated"]
    row_id: int | None  # None for a row added
    granted: bool
    legal_basis: str
    event_id: int | None  # None for a row removed

    @property
    def subject_id(self) -> int:
        return self.key[0]


@dataclass(frozen=True)
class ConsentRepairOutcome:
    repairs: list[ConsentRepair]
    fixed: int
    not_fixed: list[ConsentDifference]


# --- Finding differences ------------------------------------------------------------------------


def check_current_consent(*, chunk_size: int = 2000) -> ConsentCheck:
    """Every difference between the current table and the fold of the ledger, both read from
    one snapshot; ``chunk_size`` rows are fetched per database round trip."""
    codes = _purpose_codes()
    with _snapshot():
        differences = list(_differences(chunk_size, codes))
        checked = CurrentConsent.objects.count()
    return ConsentCheck(differences=differences, rows_checked=checked)


def _purpose_codes() -> dict[int, str]:
    return dict(Purpose.objects.values_list("pk", "code"))


@contextlib.contextmanager
def _snapshot() -> Iterator[None]:
    """Read both tables from one snapshot, so decisions made meanwhile aren't mistaken for
    differences. Inside an outer transaction (tests) the caller's snapshot stands."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _folded_ledger(chunk_size: int) -> Iterator[tuple[Key, Decision]]:
    events = (
        ConsentEvent.objects.order_by("subject_id", "purpose_id", "id")
        .values_list("subject_id", "purpose_id", "id", "granted", "legal_basis")
        .iterator(chunk_size=chunk_size)
    )
    key: Key | None = None
    last: Decision | None = None
    for subject_id, purpose_id, event_id, granted, legal_basis in events:
        if key is not None and last is not None and key != (subject_id, purpose_id):
            yield key, last
        key, last = (subject_id, purpose_id), Decision(event_id, granted, legal_basis)
    if key is not None and last is not None:
        yield key, last


def _current_rows(chunk_size: int) -> Iterator[tuple[Key, Row]]:
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


def _differences(chunk_size: int, codes: dict[int, str]) -> Iterator[ConsentDifference]:
    """Merge the two streams, both ordered by (subject, purpose)."""

    def difference(
        key: Key, kind: DifferenceKind, expected: Decision | None, found: Row | None
    ) -> ConsentDifference:
        return ConsentDifference(key, codes.get(key[1], str(key[1])), kind, expected, found)

    folded = _folded_ledger(chunk_size)
    current = _current_rows(chunk_size)
    fold_item = next(folded, None)
    row_item = next(current, None)
    while fold_item is not None or row_item is not None:
        if fold_item is not None and (row_item is None or fold_item[0] < row_item[0]):
            yield difference(fold_item[0], "missing", fold_item[1], None)
            fold_item = next(folded, None)
        elif row_item is not None and (fold_item is None or row_item[0] < fold_item[0]):
            yield difference(row_item[0], "extra", None, row_item[1])
            row_item = next(current, None)
        elif fold_item is not None and row_item is not None:  # the same key in both
            key, expected = fold_item
            found = row_item[1]
            if (found.event_id, found.granted, found.legal_basis) != (
                expected.event_id,
                expected.granted,
                expected.legal_basis,
            ):
                yield difference(key, "wrong", expected, found)
            fold_item = next(folded, None)
            row_item = next(current, None)


# --- Repairing -----------------------------------------------------------------------------------


def repair_current_consent(*, differences: Sequence[ConsentDifference]) -> ConsentRepairOutcome:
    """Make the current row of each difference's key the fold of the ledger as it is now, and
    say which differences remain. Each key is repaired in a transaction of its own, holding
    only that subject's lock, as a decision does; a decision recorded since the check is kept,
    not overwritten."""
    # A row pointing at another key's event may hold the very event some other row needs
    # (the event link is one-to-one): remove those rows first, and add them back as missing.
    first = [d for d in differences if d.kind == "extra" or d.event_of_other_key]
    rest = [d for d in differences if d not in first]
    steps = [
        *[(d, d.event_of_other_key) for d in first],
        *[(d, False) for d in first if d.event_of_other_key],
        *[(d, False) for d in rest],
    ]
    repairs = []
    for difference, drop in steps:
        repair = _repair(difference.key, difference.purpose, drop=drop)
        if repair is not None:
            repairs.append(repair)
    left = list(_recheck(differences))
    return ConsentRepairOutcome(repairs=repairs, fixed=len(differences) - len(left), not_fixed=left)


@transaction.atomic
def _repair(key: Key, purpose: str, *, drop: bool = False) -> ConsentRepair | None:
    """Make the current row for ``key`` the fold of the ledger as it is now; with ``drop``,
    only remove it."""
    subject_id, purpose_id = key
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
        return ConsentRepair(key, purpose, "removed", removed, row.granted, row.legal_basis, None)
    if latest is None:
        return None
    if row is None:
        if drop:
            return None
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
        return ConsentRepair(
            key, purpose, "added", None, latest.granted, latest.legal_basis, latest.id
        )
    if (row.event_id, row.granted, row.legal_basis) != (
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
        return ConsentRepair(
            key, purpose, "updated", row.id, latest.granted, latest.legal_basis, latest.id
        )
    return None


def _recheck(differences: Sequence[ConsentDifference]) -> Iterator[ConsentDifference]:
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
