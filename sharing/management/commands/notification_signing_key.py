"""Print the key a party's receiver checks our notices with, to hand to that party."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sharing.models import ThirdParty
from sharing.notice_signing import SigningKeyMissing, signing_key_for


class Command(BaseCommand):
    help = (
        "Print the signing key of a party's notices of corrections and erasures (HMAC-SHA256; "
        "see docs/SHARING.md). Give it to the party over a channel you trust; it changes if "
        "SHARING_NOTIFICATION_SIGNING_KEY does."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("party", help="the party's name in the register")

    def handle(self, *args, party: str, **options) -> None:
        found = ThirdParty.objects.filter(name__iexact=party.strip()).first()
        if found is None:
            raise CommandError(f"No party named {party!r} in the register.")
        try:
            self.stdout.write(signing_key_for(found.pk))
        except SigningKeyMissing as error:
            raise CommandError(str(error)) from error
