"""``manage.py retention``: run the retention schedule now, or with ``--dry-run`` show what
each rule would do, changing nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retention import engine
from retention.rules import ACTION_VERBS
from retention.schedule import BY_KEY, RULES


class Command(BaseCommand):
    help = "Forget what the retention schedule says is due (docs/RETENTION.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what each rule would do; change nothing."
        )
        parser.add_argument(
            "--rule",
            action="append",
            dest="rules",
            metavar="KEY",
            help=f"Only this rule (repeatable): {', '.join(BY_KEY)}.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        keys = options["rules"] or [entry.key for entry in RULES]
        unknown = [key for key in keys if key not in BY_KEY]
        if unknown:
            raise CommandError(
                f"Unknown rule {', '.join(unknown)}; the rules are {', '.join(BY_KEY)}."
            )
        for key in keys:
            entry = BY_KEY[key]
            if options["dry_run"]:
                outcome = engine.preview(entry)
                self.stdout.write(
                    f"{key}: {outcome.due} would be {ACTION_VERBS[entry.action]}, "
                    f"{outcome.held} held (kept {entry.kept_for()}; due: before "
                    f"{outcome.cutoff:%Y-%m-%d %H:%M %Z})"
                )
                continue
            outcome = engine.run(entry)
            if not outcome.ran:
                self.stdout.write(f"{key}: another run is going on; not started")
                continue
            self.stdout.write(
                f"{key}: {outcome.deleted} deleted, {outcome.trimmed} trimmed, "
                f"{outcome.held} held (run {outcome.run_id})"
            )
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
