"""Requests for personal data from a court or another authority, and the append-only record of
every step on them.

A member of staff logs the request (``LegalRequest``): the authority (a public authority in
the register), its own reference, the order itself (a PDF, kept in private storage), and the
scope: which people, which kinds of data, which period. A Privacy Officer other than the one
who logged it approves or rejects it with a reason (the four-eyes rule, a database constraint
too); only an approved request is fulfilled: an export limited to the scope, kept privately,
and one disclosure per person in the log. Each step is a ``LegalRequestStep`` row (on
PostgreSQL a trigger refuses ``UPDATE`` and ``DELETE``). Written only by
``sharing.services.legal_requests``.

"Privacy Officer" is the permission ``sharing.approve_legalrequest``; the group that holds it
comes with the staff roles.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from sharing.private_storage import private_storage


class LegalRequest(models.Model):
    """One court order or authority's request, its scope, and where it stands."""

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting a Privacy Officer's approval"
        APPROVED = "approved", "Approved, to fulfil"
        REJECTED = "rejected", "Rejected"
        FULFILLED = "fulfilled", "Fulfilled"

    authority = models.ForeignKey(
        "sharing.ThirdParty",
        on_delete=models.PROTECT,
        related_name="legal_requests",
        help_text="The court or authority, a public authority in the register.",
    )
    authority_reference = models.CharField(
        max_length=200, help_text="The court's or authority's own reference (case, order number)."
    )
    description = models.TextField(help_text="What the order asks for, in words.")
    document = models.FileField(
        storage=private_storage, upload_to="legal-requests/", max_length=200, editable=False
    )
    document_name = models.CharField(max_length=200, help_text="The file's name when uploaded.")
    document_sha256 = models.CharField(max_length=64)
    document_size = models.PositiveIntegerField()
    people = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    categories = models.JSONField(help_text="The kinds of data asked for (DataCategory values).")
    period_start = models.DateField(help_text="First day of the period asked about.")
    period_end = models.DateField(help_text="Last day of the period asked about (included).")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_APPROVAL
    )
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    logged_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The Privacy Officer who approved or rejected it (never the one who logged it).",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    export = models.FileField(
        storage=private_storage,
        upload_to="legal-requests/",
        max_length=200,
        blank=True,
        editable=False,
        help_text="What was disclosed, as handed to the authority.",
    )
    export_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "legal request"
        permissions = [
            (
                "approve_legalrequest",
                "Can approve, reject and fulfil legal requests and read their documents "
                "(Privacy Officer)",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="sharing_legalrequest_period_in_order",
            ),
            # Four eyes: whoever logged a request never decides on it.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("logged_by")),
                name="sharing_legalrequest_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(status="awaiting_approval")
                | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="sharing_legalrequest_decided_by_whom",
            ),
            models.CheckConstraint(
                condition=~Q(status="fulfilled")
                | Q(fulfilled_by__isnull=False, fulfilled_at__isnull=False),
                name="sharing_legalrequest_fulfilled_by_whom",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.authority_reference}"

    @property
    def reference(self) -> str:
        return f"LR-{self.pk:05d}" if self.pk else "LR-(new)"


class LegalRequestStep(models.Model):
    """One step on a legal request, for ever: who, when, what, and why."""

    class Kind(models.TextChoices):
        LOGGED = "logged", "Logged"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        FULFILLED = "fulfilled", "Fulfilled"
        DOCUMENT_DOWNLOADED = "document_downloaded", "Order document downloaded"
        EXPORT_DOWNLOADED = "export_downloaded", "Export downloaded"

    request = models.ForeignKey(LegalRequest, on_delete=models.PROTECT, related_name="steps")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    note = models.TextField(blank=True, help_text="The reason given, or what was done.")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "legal request step"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%d %b %Y %H:%M}"
