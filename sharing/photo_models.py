"""Membership of the Jessops Photo service, provided by CEWE (the policy's "Jessops Photo"
clause): one ``PhotoServiceMembership`` per time a person joined, with the disclosure to CEWE
that joining made and, once they left, the notice that tells CEWE (a ``RecipientNotification``,
sent like the notices of corrections and erasures).

Written only by ``sharing.services.photo_service``. A person has at most one open membership
(a database constraint); the closed ones are their history.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q


class LeftBecause(models.TextChoices):
    LEFT = "left", "The person left"
    ERASURE = "erasure", "The person's data was erased"


class PhotoServiceMembership(models.Model):
    """One period of a person's membership of Jessops Photo."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="photo_memberships"
    )
    party = models.ForeignKey(
        "sharing.ThirdParty",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The party providing the service (CEWE) when the person joined.",
    )
    joined_at = models.DateTimeField()
    disclosure = models.OneToOneField(
        "sharing.Disclosure",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="What joining gave the party (written with the membership).",
    )
    left_at = models.DateTimeField(null=True, blank=True)
    left_because = models.CharField(max_length=10, blank=True, choices=LeftBecause.choices)
    leave_notification = models.ForeignKey(
        "sharing.RecipientNotification",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The notice that tells the party the person left: the notice of leaving, or "
        "the erasure notice when the person's data was erased (which says more).",
    )

    class Meta:
        ordering = ["-joined_at", "-id"]
        verbose_name = "Jessops Photo membership"
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(left_at__isnull=True),
                name="sharing_photo_one_open_membership",
            ),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True, left_because="", leave_notification__isnull=True)
                | (
                    Q(left_at__isnull=False, leave_notification__isnull=False) & ~Q(left_because="")
                ),
                name="sharing_photo_party_told_once_left",
            ),
        ]

    def __str__(self) -> str:
        return f"Jessops Photo membership of {self.person_id} from {self.joined_at:%d %b %Y}"

    @property
    def is_open(self) -> bool:
        return self.left_at is None

    @property
    def party_told_at(self) -> datetime | None:
        """When the party was told the person left (or of their erasure), if it was."""
        notice = self.leave_notification
        return notice.notified_at if notice is not None else None
