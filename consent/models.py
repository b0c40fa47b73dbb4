"""Purposes, policy versions, the consent ledger and the current state derived from it.

The ledger (``ConsentEvent``) and the cookie-choice log (``CookieConsent``) are append-only:
no code path updates or deletes a row, and on PostgreSQL a trigger refuses it. Current state
(``CurrentConsent``) is derived from the ledger in the same transaction as each new event.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class PolicyVersion(models.Model):
    class ChangeType(models.TextChoices):
        EDITORIAL = "editorial", "Editorial (wording only)"
        PRACTICE_CHANGE = "practice_change", "Change in privacy practices"
        USE_CHANGE = "use_change", "Change in how collected data is used"

    number = models.PositiveIntegerField(unique=True)
    effective_date = models.DateField()
    text = models.TextField(help_text="The full text of the policy, as published.")
    summary = models.TextField(blank=True, help_text="What changed since the version before.")
    change_type = models.CharField(max_length=20, choices=ChangeType.choices)
    is_current = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"],
                condition=Q(is_current=True),
                name="consent_one_current_policy_version",
            ),
        ]

    def __str__(self) -> str:
        return f"Policy version {self.number} ({self.effective_date:%d %b %Y})"


class Purpose(models.Model):
    """Something we may use a person's data for, with the exact words shown when asking."""

    NEWSLETTER = "newsletter"
    SPECIAL_OFFERS = "special_offers"
    SURVEYS = "surveys"
    PARTNER_PHOTO = "partner_photo"
    SERVICE_ANNOUNCEMENTS = "service_announcements"

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    wording = models.TextField(help_text="The exact wording shown to the person when asked.")
    is_optional = models.BooleanField(
        default=True, help_text="Unticked for mandatory purposes, which have no opt-out."
    )
    mandatory_reason = models.TextField(
        blank=True, help_text="Shown instead of a choice when the purpose is not optional."
    )
    introduced_in = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, related_name="purposes_introduced"
    )
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["display_order", "id"]

    def __str__(self) -> str:
        return self.name


class PurposeText(models.Model):
    """One version of a purpose's words, for ever: the name, the wording shown when asking and
    the reason shown instead of a choice, who set them, why, and the policy version in force.

    Append-only (on PostgreSQL a trigger refuses ``UPDATE`` and ``DELETE``). The purpose
    holds its latest words, written with the row in one transaction by
    ``consent.services.purposes``; the ledger copies the wording into each decision."""

    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="texts")
    name = models.CharField(max_length=100)
    wording = models.TextField()
    mandatory_reason = models.TextField(blank=True)
    reason = models.TextField(help_text="Why the words were set or changed.")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff who set the words; empty for the seeded ones.",
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"words of {self.purpose_id} from {self.created_at:%d %b %Y}"


class ConsentSource(models.TextChoices):
    """How a consent decision reached us: the form, link, header, provider report or person."""

    SIGNUP_FORM = "signup_form", "Sign-up form"
    NEWSLETTER_FORM = "newsletter_form", "Newsletter form"
    ORDER_FORM = "order_form", "Order form"
    PREFERENCE_CENTRE = "preference_centre", "Preference centre"
    UNSUBSCRIBE_LINK = "unsubscribe_link", "Unsubscribe link"
    ONE_CLICK = "one_click", "One-click unsubscribe header"
    PROVIDER_COMPLAINT = "provider_complaint", "Provider complaint"
    PROVIDER_UNSUBSCRIBE = "provider_unsubscribe", "Provider unsubscribe"
    MAILTO_UNSUBSCRIBE = "mailto_unsubscribe", "Unsubscribe by email"
    STAFF = "staff", "Staff"
    API = "api", "API"
    IMPORT = "import", "Import"
    RECONSENT = "reconsent", "Re-consent"
    ERASURE = "erasure", "Account erased"


class ConsentEvent(models.Model):
    """One decision, for ever: who, which purpose, granted or withdrawn, how, under what words."""

    class LegalBasis(models.TextChoices):
        CONSENT = "consent", "Consent"
        SOFT_OPT_IN = "soft_opt_in", "Soft opt-in (customer who did not opt out when buying)"

    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consent_events"
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="events")
    granted = models.BooleanField()
    legal_basis = models.CharField(max_length=20, choices=LegalBasis.choices)
    source = models.CharField(max_length=30, choices=ConsentSource.choices)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    wording = models.TextField(help_text="The exact wording the person was shown.")
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff who recorded it, if any.",
    )
    ip_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="Truncated: /24 for IPv4, /48 for IPv6."
    )
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["subject", "purpose", "id"], name="consent_event_fold")]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrew"
        return f"{self.subject_id} {verb} {self.purpose_id} ({self.source})"


class CurrentConsent(models.Model):
    """The latest decision per subject and purpose: the fold of the ledger, kept in step."""

    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="current_consents"
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="+")
    granted = models.BooleanField()
    legal_basis = models.CharField(max_length=20, choices=ConsentEvent.LegalBasis.choices)
    event = models.OneToOneField(ConsentEvent, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "purpose"], name="consent_current_one_per_purpose"
            ),
        ]
        indexes = [
            # Audience selection: keyset scan of granted subjects for one purpose.
            models.Index(
                fields=["purpose", "subject"],
                condition=Q(granted=True),
                name="consent_current_audience",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.purpose_id}: {'granted' if self.granted else 'withdrawn'}"


class CookieConsent(models.Model):
    """One cookie choice made in a browser; the latest per ``anonymous_id`` is in force."""

    anonymous_id = models.UUIDField(default=uuid.uuid4)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cookie_consents",
    )
    analytics = models.BooleanField(default=False)
    marketing = models.BooleanField(default=False)
    gpc_honoured = models.BooleanField(
        default=False, help_text="The browser sent Sec-GPC: 1 and marketing was turned off."
    )
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The choice in force: the latest row for a browser, read straight off the index.
            models.Index(fields=["anonymous_id", "-id"], name="consent_cookie_latest"),
        ]

    def __str__(self) -> str:
        return f"cookies {self.anonymous_id}: analytics={self.analytics} marketing={self.marketing}"


class NewsletterRequestLimit(models.Model):
    """How many newsletter requests one address, or one client, made in the current window.

    The only trace an unconfirmed request leaves: a keyed hash (HMAC with the secret key) of
    the address or client, never the thing itself, kept until its window ends. It is what
    stops the sign-up form being used to mail someone again and again.
    """

    key = models.CharField(max_length=64, unique=True)
    count = models.PositiveIntegerField(default=0)
    window_ends_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key[:8]}…: {self.count} until {self.window_ends_at:%Y-%m-%d %H:%M}"


class PolicyDraft(models.Model):
    """A version of the policy being written: editable until it is published, then kept as
    it was (the published text is the ``PolicyVersion``). A use change names the purposes
    it introduces; they are created with the version, off for everyone until a yes."""

    text = models.TextField(help_text="The full text of the new version.")
    summary = models.TextField(help_text="What changed, in a few sentences: the notices say it.")
    change_type = models.CharField(max_length=20, choices=PolicyVersion.ChangeType.choices)
    new_purposes = models.JSONField(
        default=list,
        blank=True,
        help_text='For a use change: [{"code": ..., "name": ..., "wording": ...}, ...].',
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_version = models.OneToOneField(
        PolicyVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="draft",
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        if self.published_version_id:
            return f"Draft published as {self.published_version}"
        return f"Draft {self.pk}: {self.get_change_type_display()}"


class PolicyNoticeDismissal(models.Model):
    """A person closed the site notice of a policy version: kept server side, so it stays
    closed on every device they log in from."""

    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    dismissed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "version"], name="consent_notice_dismissed_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} closed the notice of version {self.version_id}"
