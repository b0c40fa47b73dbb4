"""A wishlist sent to a friend, and the clicks and sign-ups that came from it: nothing of the
friend. Imported by ``communications.models``, so they are the communications app's models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Referral(models.Model):
    """One send: its token, its sender and what became of it. Not the friend's name, address
    or a hash of it, not the message, not the wishlist: those were never written here."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed: refused, or still failing after every try"
        UNCERTAIN = "uncertain", "Uncertain: no answer once handed over; never sent again"
        SUPPRESSED = "suppressed", "Not sent: the address is on the do-not-email list"
        NOT_QUEUED = "not_queued", "Not sent: the queue was unavailable; the sender was told"
        EXPIRED = "expired", "Not sent: not picked up within the send window"

    # Opaque and random, in the links of the email: counts the clicks and sign-ups until
    # the counting period ends (RETENTION_REFERRAL_TOKENS_DAYS), when the retention job
    # empties it and the sender.
    token = models.CharField(max_length=32, unique=True, null=True, blank=True)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals_sent",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Who holds a send in progress: the task's PostgreSQL session (gone once its process
    # died), and whether it has begun handing the message over (then it is never resent).
    claimed_at = models.DateTimeField(null=True, blank=True)
    holder_db_pid = models.IntegerField(null=True, blank=True)
    holder_db_session_started = models.DateTimeField(null=True, blank=True)
    handing_over = models.BooleanField(default=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What kind of failure, and the server's code: never the server's words, which may
    # quote the address.
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The per-sender daily limit.
            models.Index(fields=["sender", "created_at"], name="comms_referral_sender_day"),
            # What the sweep looks at: sends not finished.
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="comms_referral_open",
            ),
        ]

    def __str__(self) -> str:
        code = f"{self.token[:8]}…" if self.token else f"{self.pk} (link expired)"
        return f"Referral {code} ({self.get_status_display()})"


class ReferralEvent(models.Model):
    """A click on a referral's link, or a sign-up in a browser that clicked one: which
    referral and which day, nothing about who (not the account that signed up)."""

    class Kind(models.TextChoices):
        CLICK = "click", "Click"
        SIGNUP = "signup", "Sign-up"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The day only: the report counts per day, week or month, and a finer time could be
    # matched against an account's creation.
    day = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["day", "kind"], name="comms_referral_event_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.day}"
