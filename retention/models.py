"""Legal holds, and the record of each retention run.

A run record says when, which rule, how many rows were deleted, trimmed or skipped because a
legal hold covers them, and how long it took: never who. A legal hold names a person, and is
the Privacy Officer's own record of why their data is kept past its time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class LegalHoldQuerySet(models.QuerySet["LegalHold"]):
    def in_force(self, now=None) -> LegalHoldQuerySet:
        now = now or timezone.now()
        return self.filter(released_at__isnull=True, ends_at__gt=now)


class LegalHold(models.Model):
    """While in force (not released, end date not reached), no retention rule forgets
    anything of the person's. Placed and released by the Privacy Officer; never deleted."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="legal_holds"
    )
    reason = models.TextField(help_text="Why the data is held: the legal request or dispute.")
    ends_at = models.DateTimeField(help_text="The hold lapses at this time unless renewed.")
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField(default=timezone.now)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    objects = LegalHoldQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(
                fields=["person", "ends_at"],
                condition=Q(released_at__isnull=True),
                name="retention_hold_open",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("placed_at")),
                name="retention_hold_ends_after_placed",
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True, released_by__isnull=True)
                | Q(released_at__isnull=False, released_by__isnull=False),
                name="retention_hold_release_complete",
            ),
        ]

    def __str__(self) -> str:
        state = "released" if self.released_at else f"until {self.ends_at:%Y-%m-%d}"
        return f"Legal hold {self.pk} ({state})"

    @property
    def in_force(self) -> bool:
        return self.released_at is None and self.ends_at > timezone.now()


class RetentionRun(models.Model):
    """One run of one rule: counts and times only."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        INTERRUPTED = "interrupted", "Interrupted (the process stopped; the next run goes on)"
        FAILED = "failed", "Failed"

    rule = models.CharField(max_length=60, db_index=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.RUNNING)
    cutoff = models.DateTimeField(
        null=True, blank=True, help_text="Data counted from before this time was due."
    )
    deleted = models.PositiveIntegerField(default=0)
    trimmed = models.PositiveIntegerField(default=0)
    skipped_held = models.PositiveIntegerField(
        default=0, help_text="Rows due but kept because a legal hold covers their person."
    )
    batches = models.PositiveIntegerField(default=0)
    longest_batch_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True, help_text="The error's type, if failed.")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule} at {self.started_at:%Y-%m-%d %H:%M}: {self.get_outcome_display()}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)
