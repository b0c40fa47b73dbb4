"""Notices to the parties that received a person's data when that person corrects or erases
it (UK GDPR Article 19), or leaves a service the party provides for us (Jessops Photo): one
``RecipientNotification`` per party per event, and the append-only
``RecipientNotificationStep`` log of what happened to it.

Written only by ``sharing.services.notifications``. A notice keeps only what the party needs
to act: the party's own references for the person (the orders or requests it received data
for), the kinds of data concerned and when; never the person's name, address or the corrected
values. Once the party is notified the references are forgotten too (see docs/SHARING.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class NoticeEvent(models.TextChoices):
    """What the person did that the party must hear of."""

    RECTIFICATION = "rectification", "Correction"
    ERASURE = "erasure", "Erasure"
    # The person left a service the party provides for us (Jessops Photo, CEWE): the party
    # no longer has a purpose for what it received for it.
    SERVICE_ENDED = "service_ended", "Left the service"


class NoticeMethod(models.TextChoices):
    """How the party is (or was) told: automatically from the register, or by staff."""

    ENDPOINT = "endpoint", "Signed HTTPS POST to its endpoint"
    EMAIL = "email", "Email to its notification address"
    POST = "post", "By post (recorded by staff)"
    PHONE = "phone", "By phone (recorded by staff)"


# The methods a worker carries out; the others are recorded by staff.
AUTOMATIC_METHODS = (NoticeMethod.ENDPOINT, NoticeMethod.EMAIL)
BY_HAND_METHODS = (NoticeMethod.POST, NoticeMethod.PHONE)


class RecipientNotification(models.Model):
    """One party to tell of one correction or erasure of one person's data."""

    class State(models.TextChoices):
        TO_NOTIFY = "to_notify", "To notify"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Failed for now, will retry"
        NOTIFIED = "notified", "Notified"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded by an erasure notice"

    notice_id = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="Sent with the notice, so the party can quote it and drop a repeat.",
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recipient_notifications"
    )
    party = models.ForeignKey(
        "sharing.ThirdParty", on_delete=models.PROTECT, related_name="notifications"
    )
    event = models.CharField(max_length=20, choices=NoticeEvent.choices)
    categories = models.JSONField(
        help_text="The kinds of data concerned (DataCategory values): for a correction, those "
        "corrected that the party received; for an erasure, all it received."
    )
    references = models.JSONField(
        default=list,
        blank=True,
        help_text="The party's own references for the person (the orders or requests it "
        "received data for); forgotten once the party is notified.",
    )
    occurred_at = models.DateTimeField(help_text="When the person's data was corrected or erased.")
    method = models.CharField(
        max_length=10,
        choices=NoticeMethod.choices,
        blank=True,
        help_text="Empty: the register has no address or endpoint, so staff notify by hand.",
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.TO_NOTIFY)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivery = models.ForeignKey(
        "communications.Delivery",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The email in the outbox, for a notice by email.",
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff who recorded a notice given by post or phone.",
    )
    result = models.TextField(blank=True, help_text="What the last attempt or staff recorded.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "recipient notification"
        indexes = [
            models.Index(fields=["person", "party"], name="sharing_notice_person"),
            models.Index(fields=["party", "-id"], name="sharing_notice_party"),
            # What the sweep looks for: notices a worker still has to send, or is sending.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["to_notify", "retrying", "sending"]),
                name="sharing_notice_open",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="notified") | Q(notified_at__isnull=False),
                name="sharing_notice_notified_when",
            ),
            models.CheckConstraint(
                condition=~Q(method="email") | Q(delivery__isnull=False),
                name="sharing_notice_email_has_delivery",
            ),
        ]
        permissions = [
            (
                "record_recipientnotification",
                "Can record a recipient as notified by post or phone",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} notice to {self.party} ({self.notice_id})"

    @property
    def is_automatic(self) -> bool:
        return self.method in AUTOMATIC_METHODS


class RecipientNotificationStep(models.Model):
    """One thing that happened to a notice, for ever: created, each attempt and its result,
    recorded by hand (by whom, how), superseded. Append-only (a PostgreSQL trigger refuses
    ``UPDATE`` and ``DELETE``)."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        SENT = "sent", "Sent"
        TEMPORARY_FAILURE = "temporary_failure", "Failed for now"
        PERMANENT_FAILURE = "permanent_failure", "Failed"
        RELEASED = "released", "Claim released (worker gone)"
        RECORDED_BY_HAND = "recorded_by_hand", "Recorded as notified by staff"
        SUPERSEDED = "superseded", "Superseded by an erasure notice"

    notification = models.ForeignKey(
        RecipientNotification, on_delete=models.PROTECT, related_name="steps"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff; empty for the system.",
    )
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "recipient notification step"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%d %b %Y %H:%M}"
