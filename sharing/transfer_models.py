"""The transfer of customer data to the counterparty of a business transition (the policy's
"Business Transitions" clause), recorded as disclosures once the transition takes effect.

One ``BusinessTransfer`` per ``communications.BusinessTransition``: which party received the
data, who authorised it (the disclosures name them), how far the batches have gone, and
whether it is done or blocked. Written only by ``sharing.services.transfers``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class BusinessTransfer(models.Model):
    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        BLOCKED = "blocked", "Blocked (the register refused it: see why)"

    transition = models.OneToOneField(
        "communications.BusinessTransition", on_delete=models.PROTECT, related_name="+"
    )
    party = models.ForeignKey(
        "sharing.ThirdParty",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The counterparty as it stands in the register.",
    )
    authorised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The member of staff the disclosures name: who recorded the transition, "
        "or who resumed a blocked transfer.",
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    up_to_person = models.BigIntegerField(
        help_text="The highest account id when the transfer started: later accounts are the "
        "new owner's own customers, not transferred data."
    )
    after_person = models.BigIntegerField(
        default=0, help_text="The batches have covered every account up to this id."
    )
    people = models.PositiveIntegerField(default=0, help_text="Disclosures recorded so far.")
    blocked_reason = models.TextField(blank=True)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "business transfer"
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="completed") | Q(completed_at__isnull=False),
                name="sharing_transfer_completed_when",
            ),
            models.CheckConstraint(
                condition=~Q(state="blocked") | ~Q(blocked_reason=""),
                name="sharing_transfer_blocked_says_why",
            ),
        ]

    def __str__(self) -> str:
        return f"Transfer to {self.party} ({self.get_state_display().split(' (')[0].lower()})"

    @property
    def reference(self) -> str:
        """The reference every disclosure of the transfer carries."""
        return transfer_reference(self.transition)


def transfer_reference(transition) -> str:
    """``business transition 3: acquisition by another company, Acme Ltd`` (at most 200
    characters, the disclosure log's limit)."""
    kind = transition.get_kind_display().lower()
    return f"business transition {transition.pk}: {kind}, {transition.counterparty}"[:200]
