"""Membership of the Jessops Photo service, provided by CEWE (the policy's "Jessops Photo"
clause): one ``PhotoServiceMembership`` per time a person joined, with the disclosure to CEWE
that joining made and, once they left, the notice CEWE must be given.

Written only by ``sharing.services.photo_service``. A person has at most one open membership
(a database constraint); the closed ones are their history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class LeaveNotice(models.TextChoices):
    """Whether CEWE has been told that the person left."""

    NOT_DUE = "not_due", "Not due (still a member)"
    TO_NOTIFY = "to_notify", "To notify"
    NOTIFIED = "notified", "Notified"


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
    leave_notice = models.CharField(
        max_length=10, choices=LeaveNotice.choices, default=LeaveNotice.NOT_DUE
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff who recorded that the party was told.",
    )
    notice_detail = models.CharField(
        max_length=300, blank=True, help_text="How the party was told (staff's note)."
    )

    class Meta:
        ordering = ["-joined_at", "-id"]
        verbose_name = "Jessops Photo membership"
        permissions = [
            (
                "record_photo_leave_notice",
                "Can record that CEWE was told a member left Jessops Photo",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(left_at__isnull=True),
                name="sharing_photo_one_open_membership",
            ),
            models.CheckConstraint(
                condition=(Q(left_at__isnull=True, leave_notice="not_due", left_because=""))
                | (Q(left_at__isnull=False) & ~Q(leave_notice="not_due") & ~Q(left_because="")),
                name="sharing_photo_notice_due_once_left",
            ),
            models.CheckConstraint(
                condition=~Q(leave_notice="notified") | Q(notified_at__isnull=False),
                name="sharing_photo_notified_when",
            ),
        ]
        indexes = [
            models.Index(
                fields=["left_at"],
                condition=Q(leave_notice="to_notify"),
                name="sharing_photo_notice_due",
            )
        ]

    def __str__(self) -> str:
        return f"Jessops Photo membership of {self.person_id} from {self.joined_at:%d %b %Y}"

    @property
    def is_open(self) -> bool:
        return self.left_at is None
