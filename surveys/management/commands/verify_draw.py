"""``manage.py verify_draw <survey id>``: run a contest's draw again from what it recorded
(the seed and the entry numbers) and say whether the entry list's hash and the winners match."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from surveys.models import Draw
from surveys.services import verify_draw


class Command(BaseCommand):
    help = "Run a contest's draw again from its seed and entry list, and compare the winners."

    def add_arguments(self, parser) -> None:
        parser.add_argument("survey_id", type=int)

    def handle(self, *args, survey_id: int, **options) -> None:
        draw = Draw.objects.filter(survey_id=survey_id).first()
        if draw is None:
            raise CommandError(f"Contest {survey_id} has no draw.")
        result = verify_draw(draw)
        self.stdout.write(f"seed: {draw.seed}")
        self.stdout.write(f"entries: {len(draw.entry_ids)}, SHA-256 {draw.entries_hash}")
        self.stdout.write(f"winners drawn again: {', '.join(map(str, result.winners))}")
        if not result:
            raise CommandError(
                "The draw does not match: "
                + ("the entry list's hash differs; " if not result.hash_matches else "")
                + ("the winners differ." if not result.winners_match else "")
            )
        self.stdout.write(self.style.SUCCESS("The same winners as recorded."))
