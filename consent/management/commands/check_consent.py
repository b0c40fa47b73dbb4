"""Rebuild the current-consent table from the ledger and report, or fix, every difference.

The check and the repair are ``consent.services.integrity``'s; this command reports them. It
exits non-zero while a difference is left.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.services import (
    ConsentDifference,
    ConsentRepair,
    check_current_consent,
    repair_current_consent,
)


def _state(granted: bool) -> str:
    return "granted" if granted else "withdrawn"


def _where(item: ConsentDifference | ConsentRepair) -> str:
    return f"subject {item.subject_id}, purpose {item.purpose}"


def describe_difference(difference: ConsentDifference) -> str:
    expected, found = difference.expected, difference.found
    if difference.kind == "missing":
        assert expected is not None  # the ledger's decision, with no current row
        return (
            f"missing: {_where(difference)}: the ledger says {_state(expected.granted)} "
            f"(event {expected.event_id}) but there is no current row"
        )
    if difference.kind == "extra":
        assert found is not None  # a current row, with no decision behind it
        return (
            f"extra: {_where(difference)}: current row {found.id} says {_state(found.granted)} "
            f"(event {found.event_id}) but the ledger has no event"
        )
    assert expected is not None and found is not None  # "wrong": a row and the decision
    return (
        f"wrong: {_where(difference)}: current row {found.id} says {_state(found.granted)} "
        f"({found.legal_basis}, event {found.event_id}); the ledger says "
        f"{_state(expected.granted)} ({expected.legal_basis}, event {expected.event_id})"
    )


def describe_repair(repair: ConsentRepair) -> str:
    if repair.action == "removed":
        return f"fixed: {_where(repair)}: removed current row {repair.row_id}"
    if repair.action == "added":
        return (
            f"fixed: {_where(repair)}: added the current row, {_state(repair.granted)} "
            f"(event {repair.event_id})"
        )
    return (
        f"fixed: {_where(repair)}: current row {repair.row_id} now {_state(repair.granted)} "
        f"({repair.legal_basis}, event {repair.event_id})"
    )


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
        check = check_current_consent(chunk_size=chunk_size)
        differences = check.differences
        if not differences:
            self.stdout.write(
                self.style.SUCCESS(
                    f"The current table matches the ledger ({check.rows_checked} rows)."
                )
            )
            return
        for difference in differences:
            self.stdout.write(describe_difference(difference))
        if not fix:
            raise CommandError(
                f"{len(differences)} difference(s) between the ledger and the current table; "
                "run check_consent --fix to correct the current table."
            )
        outcome = repair_current_consent(differences=differences)
        for repair in outcome.repairs:
            self.stdout.write(describe_repair(repair))
        self.stdout.write(self.style.SUCCESS(f"Fixed {outcome.fixed} difference(s)."))
        if outcome.not_fixed:
            for difference in outcome.not_fixed:
                self.stdout.write(f"not fixed: {describe_difference(difference)}")
            raise CommandError(f"{len(outcome.not_fixed)} difference(s) could not be fixed.")
