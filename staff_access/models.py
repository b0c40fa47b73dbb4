"""The record of staff access to people's data, and of staff sign-in security.

Both tables are append-only: no update or delete path in code, and on PostgreSQL a trigger
refuses ``UPDATE`` and ``DELETE`` (erasure's one exception: ``StaffAccess.search_term``
emptied in rows naming the erased person, every other column unchanged).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class StaffAccess(models.Model):
    """One request of one member of staff that showed, searched, exported or changed people's
    data: who, in which role, whose data (every person the page showed, in one row), which
    fields, why (the page or action) and when. Written only by ``record_access``, at most one
    row per request."""

    class Action(models.TextChoices):
        LIST = "list", "Viewed a list"
        VIEW = "view", "Viewed a record"
        SEARCH = "search", "Searched"
        EXPORT = "export", "Exported"
        CHANGE = "change", "Changed"

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(
        max_length=200, help_text="The staff member's role(s) at the time: their groups."
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    page = models.CharField(
        max_length=200, help_text="Why: the admin page, action or API endpoint used."
    )
    # Account ids of every person whose data the request showed or changed (one row per
    # request, however many people). On PostgreSQL a GIN index answers "who saw my data".
    subject_ids = models.JSONField(default=list)
    subject_count = models.PositiveIntegerField(default=0)
    fields = models.JSONField(default=list, help_text="The fields of their data shown or changed.")
    search_term = models.CharField(
        max_length=200, blank=True, help_text="What was searched for (emptied on erasure)."
    )
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = "staff access to personal data"
        verbose_name_plural = "staff access to personal data"

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.page} ({self.subject_count} people)"


class StaffSignInEvent(models.Model):
    """A staff member's sign-in security: second factor set up or removed, recovery codes
    regenerated, password changed, other sessions ended, an idle session expired, the admin
    refused for want of a second factor. Written only by ``record_sign_in_event``."""

    class Kind(models.TextChoices):
        SECOND_FACTOR_ADDED = "mfa_added", "Second factor set up"
        SECOND_FACTOR_REMOVED = "mfa_removed", "Second factor removed"
        SECOND_FACTOR_RESET = "mfa_reset", "Recovery codes regenerated"
        SECOND_FACTOR_FAILED = "mfa_failed", "Wrong second-factor code"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        OTHER_SESSIONS_ENDED = "sessions_ended", "Other sessions ended"
        IDLE_EXPIRED = "idle_expired", "Session expired after being idle"
        ADMIN_REFUSED = "admin_refused", "Admin refused: no second factor set up"

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    detail = models.CharField(max_length=200, blank=True)
    # "Other sessions ended": the session that made the change and goes on (a keyed hash of
    # its key, never the key itself).
    kept_session = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["staff", "kind", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.occurred_at:%d %b %Y %H:%M})"
