from __future__ import annotations

import calendar
from datetime import date
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    """Users are found by email, whatever its case."""

    use_in_migrations = True

    def get_by_natural_key(self, email: str | None) -> User:
        return self.get(email__iexact=email)

    def _create(self, email: str, password: str | None, **fields: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        # None gives an unusable password: a subscriber who has not claimed the account yet.
        user.set_password(password)
        user.full_clean(exclude=["password"], validate_unique=False)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A customer, a newsletter subscriber or a member of staff; the email address is the login."""

    # Stored lower-cased (see UserManager); the Lower() constraint also refuses a second
    # address differing only in case, whichever path wrote it.
    email = models.EmailField("email address", max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Designates whether the user can log into the admin site."
    )
    is_active = models.BooleanField(
        default=True,
        help_text="Unticked for a deactivated account: it can't log in and is sent nothing.",
    )
    date_joined = models.DateTimeField(default=timezone.now)
    deactivated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the person deactivated their own account: logging in again "
        "reactivates it. Staff reactivate with the admin action.",
    )
    erasure_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="The person asked for their data to be erased."
    )
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Personal data erased; the row stays as the pseudonymous subject of the "
        "consent ledger and audit trail.",
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            # Erased, or on its way to erasure: closed for ever, whichever path writes the row.
            models.CheckConstraint(
                condition=Q(erased_at__isnull=True, erasure_requested_at__isnull=True)
                | Q(is_active=False),
                name="accounts_user_erased_stays_inactive",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def can_reactivate_by_login(self) -> bool:
        """Deactivated by its owner, and neither erased nor on its way to erasure."""
        return (
            not self.is_active
            and self.deactivated_at is not None
            and self.erasure_requested_at is None
            and self.erased_at is None
        )

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email


class Profile(models.Model):
    """What a customer tells us beyond their login: postal address, phone, and how customer
    service should reply to them (the policy: "via email or phone, in accordance with the
    users wishes"). Written only by ``accounts.services.update_profile``, which audits it."""

    class ContactChannel(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    address_line_1 = models.CharField("address line 1", max_length=100, blank=True)
    address_line_2 = models.CharField("address line 2", max_length=100, blank=True)
    town = models.CharField("town or city", max_length=60, blank=True)
    postcode = models.CharField(
        max_length=8, blank=True, help_text='UK postcode, upper case with one space: "SW1A 1AA".'
    )
    phone = models.CharField(
        max_length=16, blank=True, help_text='International form with no spaces: "+447700900123".'
    )
    contact_channel = models.CharField(
        "customer service replies by",
        max_length=10,
        choices=ContactChannel.choices,
        default=ContactChannel.EMAIL,
    )
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(contact_channel="phone") | ~Q(phone=""),
                name="accounts_profile_phone_channel_has_phone",
            ),
        ]

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class AddressVerification(models.Model):
    """Supplementary data from a third party: what an address verifier (AFD, or the built-in
    postcode format check) said about an address the customer gave, and when."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="address_verifications"
    )
    source = models.CharField(max_length=50, help_text="The verifier that answered.")
    verified = models.BooleanField()
    postcode = models.CharField(max_length=8, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, help_text="The verifier's answer as received.")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.source}: {'verified' if self.verified else 'not verified'} ({self.user_id})"


class AuditSource(models.TextChoices):
    """How an audited change to someone's personal data was made."""

    PROFILE_PAGE = "profile_page", "Profile page"
    ACCOUNT = "account", "Account settings"
    STAFF = "staff", "Staff"
    PRIVACY_REQUEST = "privacy_request", "Privacy request"
    RETENTION = "retention", "Retention schedule"


class AuditEvent(models.Model):
    """One change to someone's personal data, for ever: who acted, whose data, which field,
    old and new values, when, and how.

    Append-only: nothing in code updates or deletes a row, and on PostgreSQL a trigger refuses
    both, with one exception: erasure may blank the values (``values_redacted``), keeping the
    fact that a change happened. Secrets (the password) are recorded as changed, never with a
    value."""

    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who made the change: the person themselves or a member of staff.",
    )
    change_id = models.UUIDField(help_text="Rows written by one save share this id.")
    field = models.CharField(max_length=50)
    is_secret = models.BooleanField(
        default=False, help_text="A secret (the password): recorded as changed, values never kept."
    )
    # NULL, not "": no value kept (a secret, or redacted), as opposed to an empty value.
    old_value = models.TextField(null=True, blank=True)  # noqa: DJ001
    new_value = models.TextField(null=True, blank=True)  # noqa: DJ001
    values_redacted = models.BooleanField(
        default=False, help_text="The values were removed when the person's data was erased."
    )
    source = models.CharField(max_length=20, choices=AuditSource.choices)
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["subject", "-id"], name="accounts_audit_subject")]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_secret=False) | Q(old_value__isnull=True, new_value__isnull=True),
                name="accounts_audit_secret_has_no_values",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id}: {self.field} changed by {self.actor_id} ({self.source})"


def add_calendar_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months; the last day of the month when the same day
    does not exist (31 January + 1 month = 28 or 29 February), as the UK GDPR guidance counts."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class PrivacyRequest(models.Model):
    """A request to exercise a data-protection right, made by email, phone, post or through
    the site: logged, identity-checked, answered within one calendar month of receipt
    (extendable by two further months, with a reason), and fulfilled by the same export or
    erasure as self-service."""

    class Type(models.TextChoices):
        ACCESS = "access", "Access (a copy of their data)"
        RECTIFICATION = "rectification", "Rectification (correct their data)"
        ERASURE = "erasure", "Erasure (delete their data)"
        OBJECTION = "objection", "Objection (stop direct marketing)"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        POST = "post", "Post"
        SELF_SERVICE = "self_service", "Self-service on the site"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETED = "completed", "Completed"
        REFUSED = "refused", "Refused"

    request_type = models.CharField("type", max_length=20, choices=Type.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="privacy_requests",
        help_text="The account the request is about, once found.",
    )
    requester_name = models.CharField(max_length=200, blank=True)
    requester_contact = models.CharField(
        max_length=300,
        blank=True,
        help_text="How to reply: email address, phone number or postal address. Removed when "
        "an erasure is completed.",
    )
    details = models.TextField(blank=True, help_text="What the person asked for, in their words.")
    received_on = models.DateField(help_text="The day the request reached us.")
    due_on = models.DateField(editable=False)
    extended_on = models.DateField(null=True, blank=True, editable=False)
    extension_reason = models.TextField(blank=True, editable=False)
    identity_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    identity_check = models.CharField(
        max_length=300,
        blank=True,
        editable=False,
        help_text="How the requester's identity was confirmed.",
    )
    identity_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN, editable=False
    )
    outcome = models.TextField(
        blank=True, editable=False, help_text="What was done, and what was kept and why."
    )
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "id"]
        permissions = [("fulfil_privacyrequest", "Can fulfil, extend or refuse privacy requests")]
        indexes = [
            models.Index(
                fields=["due_on"], condition=Q(status="open"), name="accounts_privacy_open_due"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=models.F("received_on")),
                name="accounts_privacy_due_after_receipt",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.get_request_type_display().split(' (')[0]}"

    @property
    def reference(self) -> str:
        return f"PR-{self.pk:05d}" if self.pk else "PR-new"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def is_overdue(self, today: date | None = None) -> bool:
        return self.is_open and self.due_on < (today or timezone.localdate())
