"""Demo data for a local site: a superuser whose credentials are printed, and demo customers."""

import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from communications.models import Campaign
from communications.services import create_campaign
from consent.models import Purpose
from consent.services import ConsentSource, record_decisions

DEMO_ADMIN_EMAIL = "admin@jessops.example"
DEMO_CAMPAIGN = "Demo: monthly newsletter"
DEMO_CUSTOMERS = [
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Grace", "Hopper"),
    ("Katherine", "Johnson"),
    ("Tim", "Berners-Lee"),
]


class Command(BaseCommand):
    help = (
        "Create a demo superuser (its password is reset and printed on every run) and demo "
        "customers. Safe to run again: existing demo users are kept. Refused in production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--users", type=int, default=len(DEMO_CUSTOMERS), help="number of demo customers"
        )
        parser.add_argument(
            "--no-ping", action="store_true", help="do not queue a ping task for the worker"
        )

    def handle(self, *args: object, users: int, no_ping: bool, **options: object) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates known accounts and is refused in production.")
        if users < 0:
            raise CommandError("--users must be zero or more.")
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            admin = self._ensure_admin(password)
            created = self._ensure_customers(users)
            campaign = self._ensure_campaign(admin)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Admin:     {settings.SITE_URL}/admin/")
        self.stdout.write(f"  Email:     {admin.email}")
        self.stdout.write(f"  Password:  {password}")
        self.stdout.write("  (the admin asks for an authenticator app on the first visit)")
        self.stdout.write(f"  Customers: {created} created, {users} in the demo set")
        self.stdout.write(
            f"  Campaign:  {settings.SITE_URL}/admin/communications/campaign/{campaign.pk}/change/"
        )
        if not no_ping:
            from privacy_site.celery import ping

            result = ping.delay()
            self.stdout.write(f"  Queued a ping task for the worker (id {result.id}).")

    def _ensure_campaign(self, admin) -> Campaign:
        """A draft newsletter to preview, test-send and send from the admin."""
        existing = Campaign.objects.filter(name=DEMO_CAMPAIGN).first()
        if existing is not None:
            return existing
        return create_campaign(
            actor=admin,
            name=DEMO_CAMPAIGN,
            kind="newsletter",
            subject_line="New in store this month, {{ first_name }}",
            body=(
                "## New lenses in store\n\n"
                "This month we have new portrait lenses and a trade-in offer on old bodies.\n\n"
                "[See what's new](https://www.jessops.example/new/)"
            ),
        )

    def _ensure_admin(self, password: str):
        User = get_user_model()
        admin = User.objects.filter(email__iexact=DEMO_ADMIN_EMAIL).first()
        if admin is None:
            admin = User.objects.create_superuser(
                DEMO_ADMIN_EMAIL, password, first_name="Demo", last_name="Admin"
            )
        else:
            admin.set_password(password)
            admin.is_active = admin.is_staff = admin.is_superuser = True
            admin.save(update_fields=["password", "is_active", "is_staff", "is_superuser"])
        # Staff log in through the site's login like everyone, which needs a verified address.
        EmailAddress.objects.update_or_create(
            user=admin, email=admin.email, defaults={"verified": True, "primary": True}
        )
        return admin

    def _ensure_customers(self, count: int) -> int:
        """Insert missing demo customers in bulk; they share one hashed random password."""
        User = get_user_model()
        password_hash = make_password(secrets.token_urlsafe(16))
        wanted = {}
        for index in range(count):
            first, last = DEMO_CUSTOMERS[index % len(DEMO_CUSTOMERS)]
            email = f"{first}.{last}.{index + 1}@customers.example".lower()
            wanted[email] = User(
                email=email, first_name=first, last_name=last, password=password_hash
            )
        created = 0
        emails = list(wanted)
        for start in range(0, len(emails), 5000):
            chunk = emails[start : start + 5000]
            existing = set(User.objects.filter(email__in=chunk).values_list("email", flat=True))
            fresh = [wanted[email] for email in chunk if email not in existing]
            User.objects.bulk_create(fresh, batch_size=5000)
            for user in User.objects.filter(email__in=[u.email for u in fresh]):
                self._demo_consents(user)
            created += len(fresh)
        return created

    def _demo_consents(self, user) -> None:
        """A mix of choices, recorded through the ledger like any other decision."""
        n = user.pk
        record_decisions(
            subject=user,
            choices={
                Purpose.NEWSLETTER: n % 4 < 2,
                Purpose.SPECIAL_OFFERS: n % 3 == 0,
                Purpose.SURVEYS: n % 5 == 0,
                Purpose.PARTNER_PHOTO: n % 7 == 0,
            },
            source=ConsentSource.IMPORT,
        )
