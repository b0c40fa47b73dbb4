"""Campaigns, the delivery outbox, the suppression list and provider events.

A ``Delivery`` row exists for every message to every recipient, written before anything is
sent: it is the outbox (status ``queued``), the record of what happened (``sent``, ``bounced``,
``skipped_no_consent`` ...) and the proof, for the person and for a regulator, of every email
we sent them and why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from privacy_site.numbers import whole_number

from .kinds import CAMPAIGN_KIND_CHOICES, MessageKind
from .referrals.models import Referral, ReferralEvent  # noqa: F401 - this app's models too

UNCERTAIN_PREFIX = "uncertain:"  # ``last_error`` of a row that may have gone: never resent


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"

    class BodyFormat(models.TextChoices):
        MARKDOWN = "markdown", "Markdown"
        HTML = "html", "HTML"

    name = models.CharField(max_length=200, help_text="For staff only; never shown to recipients.")
    kind = models.CharField(max_length=30, choices=CAMPAIGN_KIND_CHOICES)
    purpose = models.ForeignKey(
        "consent.Purpose",
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text="The purpose recipients agreed to; set from the kind.",
    )
    subject_line = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown or HTML; sanitised before use.")
    body_format = models.CharField(
        max_length=10, choices=BodyFormat.choices, default=BodyFormat.MARKDOWN
    )
    # Derived from ``body`` by the service that saves it: sanitised HTML and its plain text.
    body_html = models.TextField(editable=False, default="")
    body_text = models.TextField(editable=False, default="")
    segment = models.JSONField(
        default=dict, blank=True, help_text="Optional filters narrowing the audience."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    send_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last subject id whose delivery row is written: audience selection resumes after it.
    audience_cursor = models.BigIntegerField(default=0, editable=False)
    audience_complete = models.BooleanField(default=False, editable=False)
    # When a batch task last claimed rows: the sweep restarts a campaign that stopped moving.
    last_batch_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["send_at"],
                condition=Q(status="scheduled"),
                name="comms_campaign_due",
            ),
        ]
        permissions = [("send_campaign", "Can schedule, send, pause, resume and cancel")]

    def __str__(self) -> str:
        return self.name


class SendingClaim(models.Model):
    """A sending task's hold on the delivery rows it claimed (status *sending*): who holds
    them, and which of them it is handing over. A claim exists while its task runs; the
    sweep resolves one whose holder is gone (its database session ended, or it is older
    than ``EMAIL_SENDING_TIMEOUT``): the row being handed over is uncertain, the others go
    back to the queue."""

    # host:pid of the process, for people reading it.
    worker = models.CharField(max_length=200)
    # The holder's PostgreSQL session (pid and start): gone from pg_stat_activity once the
    # process that held it died.
    db_pid = models.IntegerField(null=True, blank=True)
    db_session_started = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField()
    # The row whose hand-over may have begun, or every row of the claim (one provider call).
    in_flight = models.BigIntegerField(null=True, blank=True)
    all_in_flight = models.BooleanField(default=False)
    # The rows in the order they are handed over (ids, comma-separated), and what became of
    # each one handed over so far, a letter each (see ``services.claims``): what the sweep
    # records if the worker dies before writing the rows.
    hand_over_order = models.TextField(blank=True)
    outcomes = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"claim {self.pk} by {self.worker}"


class DeliveryQuerySet(models.QuerySet):
    def pending(self) -> DeliveryQuerySet:
        return self.filter(status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING])


class Delivery(models.Model):
    """One message to one recipient: the outbox row, then the record of what happened."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        SUPPRESSED = "suppressed", "Suppressed"
        SKIPPED_NO_CONSENT = "skipped_no_consent", "Skipped: no consent"
        SKIPPED_INACTIVE = "skipped_inactive", "Skipped: account deactivated or gone"
        SKIPPED_UNVERIFIED = "skipped_unverified", "Skipped: address not verified"
        SKIPPED_AUDIENCE = "skipped_audience", "Skipped: not in the notice's audience"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deliveries",
        # The unique (campaign, user) index serves every lookup by campaign.
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    # The address at the time of writing, for transactional mail; campaign rows read the
    # account's current address when they send. (A referral has no row: the friend's address
    # is never stored; see communications.referrals.)
    to_email = models.EmailField(max_length=254, blank=True)
    # What the template needs beyond the recipient (a confirmation link, a list of changes).
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The task holding the row while it is *sending* (cleared when its result is recorded).
    claim = models.ForeignKey(
        SendingClaim,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # A queued row that failed for now is not tried again before this time.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "user"],
                condition=Q(campaign__isnull=False),
                name="comms_delivery_one_per_campaign_recipient",
            ),
        ]
        indexes = [
            # What batch tasks claim, and what tells a campaign it is finished: small, and
            # it shrinks as the campaign goes out.
            models.Index(
                fields=["campaign", "id"],
                condition=Q(status__in=["queued", "sending"]),
                name="comms_delivery_open",
            ),
            # What the outbox sweep looks for: transactional rows left queued (a big campaign's
            # queued rows are not in it), and rows stuck sending.
            models.Index(
                fields=["updated_at"],
                condition=Q(status="queued", campaign__isnull=True),
                name="comms_delivery_outbox",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(status="sending"),
                name="comms_delivery_sending",
            ),
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="comms_delivery_provider_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def message_id(self) -> str:
        return message_id_for(self.pk)


def message_id_domain() -> str:
    configured = getattr(settings, "EMAIL_MESSAGE_ID_DOMAIN", "")
    if configured:
        return configured
    from_address = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">")
    return from_address.rpartition("@")[2] or "localhost"


def message_id_for(delivery_id: int) -> str:
    """The Message-ID header of a delivery: derived from its id, so a reply or a provider
    event that quotes it leads back to the row."""
    return f"<delivery-{delivery_id}@{message_id_domain()}>"


def delivery_id_from_message_id(message_id: str) -> int | None:
    value = message_id.strip().strip("<>")
    local, _, domain = value.partition("@")
    if not local.startswith("delivery-") or domain != message_id_domain():
        return None
    number = local.removeprefix("delivery-")
    return whole_number(number)


class Suppression(models.Model):
    """An address we must never email again. Only its hash is kept, so an erased or
    re-imported address is still recognised without the list holding anyone's address."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        SOFT_BOUNCES = "soft_bounces", "Repeated soft bounces"
        COMPLAINT = "complaint", "Spam complaint"
        REJECTED = "rejected", "Rejected by the provider"
        ERASURE = "erasure", "Account erased"
        MANUAL = "manual", "Added by staff"

    address_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.address_hash[:12]}…)"


class SuppressionLift(models.Model):
    """A suppression taken off the list, for ever: which hash, why it had been suppressed,
    who lifted it, when and why. Written only by ``lift_suppression``, in the transaction
    that removes the suppression; append-only (on PostgreSQL a trigger refuses ``UPDATE``
    and ``DELETE``)."""

    address_hash = models.CharField(max_length=64, db_index=True)
    suppressed_reason = models.CharField(max_length=20, choices=Suppression.Reason.choices)
    suppressed_detail = models.CharField(max_length=300, blank=True)
    suppressed_at = models.DateTimeField()
    reason = models.TextField(help_text="Why it was lifted: who asked, and how.")
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    lifted_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"lifted {self.address_hash[:12]}… ({self.lifted_at:%d %b %Y})"


class ProviderEvent(models.Model):
    """A tracking event from the email provider's webhook, recorded once and processed once."""

    esp_name = models.CharField(max_length=50)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=30)
    reject_reason = models.CharField(max_length=30, blank=True)
    is_soft_bounce = models.BooleanField(default=False)
    # Kept until the event is processed, then blanked: afterwards the hash is enough.
    recipient = models.EmailField(max_length=254, blank=True)
    recipient_hash = models.CharField(max_length=64, blank=True, db_index=True)
    message_id = models.CharField(max_length=200, blank=True)
    # Found from the metadata we sent with the message, or its message id, when processed.
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    delivery_ref = models.CharField(max_length=40, blank=True)
    description = models.TextField(blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["esp_name", "event_id"], name="comms_provider_event_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=True),
                name="comms_provider_event_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.esp_name} {self.event_type} {self.event_id}"


class PolicyPublication(models.Model):
    """The publishing of a policy version, for ever: who published it, when, and what it
    started (the site notice, an email campaign). Written by ``publish_policy_change`` in the
    transaction that publishes the version."""

    version = models.OneToOneField(
        "consent.PolicyVersion", on_delete=models.PROTECT, related_name="publication"
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField()
    site_notice = models.BooleanField(help_text="A notice shows on the site.")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started = models.TextField(help_text="What publishing started, in words.")

    class Meta:
        ordering = ["-published_at"]

    def __str__(self) -> str:
        return f"{self.version} published {self.published_at:%d %b %Y %H:%M}"


class BusinessTransition(models.Model):
    """A merger, acquisition or asset sale: personal information may pass to the
    counterparty. The site shows a notice from the announcement to the effective date, at
    least 30 days (the policy's "Business Transitions" clause)."""

    class Kind(models.TextChoices):
        MERGER = "merger", "Merger"
        ACQUISITION = "acquisition", "Acquisition by another company"
        ASSET_SALE = "asset_sale", "Sale of a portion of our assets"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    counterparty = models.CharField(max_length=200)
    description = models.TextField(help_text="What happens, as the notice says it.")
    announced_on = models.DateField()
    effective_on = models.DateField()
    use_change_version = models.ForeignKey(
        "consent.PolicyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The use-change version, if personal data will be used differently.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-announced_on", "-id"]
        constraints = [
            # One record (and one notice) per transition, however often the form is sent.
            models.UniqueConstraint(
                "kind",
                Lower("counterparty"),
                "effective_on",
                name="business_transition_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.counterparty} ({self.effective_on:%d %b %Y})"


# The record of campaign and suppression actions, in a module of its own.
from communications import event_models  # noqa: E402, F401
