"""Aggregate reports for suppliers and advertisers (the policy's "Aggregate Information"
clause): figures about a supplier's sales over a period that identify no one.

- ``SupplierSite``: the web sites that are a supplier's own, so that orders referred from
  them can be counted for it.
- ``AggregateReport``: one report, stored with exactly what it contained (the published
  table and the CSV file as downloaded, with its SHA-256).
- ``AggregateDisclosure``: the report given to the aggregate-only party in the register: the
  disclosure log's row for figures that concern no person.

Written only by ``sharing.services.aggregate_reports`` (and ``aggregate_disclosures``).
Reports and their disclosures are append-only: on PostgreSQL a trigger refuses ``UPDATE``
and ``DELETE`` (migration 0008).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from sharing.models import DisclosurePurpose


class SupplierSite(models.Model):
    """A host name that is one of a supplier's own sites: an order whose referring site is
    this host (or one under it) was referred by that supplier."""

    supplier = models.CharField(
        max_length=200, help_text="The supplier, spelt as the checkout's order lines spell it."
    )
    host = models.CharField(
        max_length=253,
        help_text="The site's host name, such as canon.co.uk; its subdomains count too.",
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["supplier", "host"]
        verbose_name = "supplier's site"
        verbose_name_plural = "suppliers' sites"
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "host"], name="sharing_suppliersite_once_per_supplier"
            )
        ]

    def __str__(self) -> str:
        return f"{self.host} ({self.supplier})"


class ReportTrigger(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled (the monthly job)"
    ON_DEMAND = "on_demand", "On demand (staff)"


class AggregateReport(models.Model):
    """One report of one supplier's figures for one period, as it was given."""

    party = models.ForeignKey(
        "sharing.ThirdParty",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The aggregate-only recipient in the register it was given to.",
    )
    supplier = models.CharField(max_length=200)
    period_start = models.DateField(help_text="The first day of the period.")
    period_end = models.DateField(help_text="The last day of the period (included).")
    trigger = models.CharField(max_length=10, choices=ReportTrigger.choices)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff who asked for it; empty for the scheduled job.",
    )
    generated_at = models.DateTimeField(db_index=True)
    table = models.JSONField(
        help_text="The published table: its columns and rows, each cell as shown (a number, "
        "'<10' or 'withheld')."
    )
    csv = models.TextField(help_text="The CSV file exactly as downloaded.")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the CSV file (UTF-8).")
    small_cells = models.PositiveIntegerField(help_text="Cells shown as '<10'.")
    withheld_cells = models.PositiveIntegerField(
        help_text="Cells of ten or more withheld so that a '<10' can't be worked out."
    )

    class Meta:
        ordering = ["-generated_at", "-id"]
        verbose_name = "aggregate report"
        permissions = [
            ("generate_aggregatereport", "Can generate an aggregate report for a supplier")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="sharing_aggregatereport_period_in_order",
            ),
            models.CheckConstraint(
                condition=Q(trigger=ReportTrigger.SCHEDULED, generated_by__isnull=True)
                | Q(trigger=ReportTrigger.ON_DEMAND, generated_by__isnull=False),
                name="sharing_aggregatereport_who_asked",
            ),
            # The scheduled job makes each supplier's report for a period once.
            models.UniqueConstraint(
                fields=["supplier", "period_start", "period_end"],
                condition=Q(trigger=ReportTrigger.SCHEDULED),
                name="sharing_aggregatereport_scheduled_once",
            ),
        ]
        indexes = [
            models.Index(fields=["supplier", "-period_start"], name="sharing_report_supplier")
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.supplier}, {self.period_start} to {self.period_end}"

    @property
    def reference(self) -> str:
        return f"AR-{self.pk:05d}" if self.pk else "AR-(new)"

    @property
    def filename(self) -> str:
        return f"aggregate-report-{self.reference}-{self.period_start}-{self.period_end}.csv"


class AggregateDisclosure(models.Model):
    """Aggregate figures given to a party in the register: what, why, for which report, by
    whom, when. No person: figures that identify no one are not personal data, but giving
    them is on the record all the same (what each party received, and that it was only
    aggregates)."""

    party = models.ForeignKey(
        "sharing.ThirdParty", on_delete=models.PROTECT, related_name="aggregate_disclosures"
    )
    purpose = models.CharField(
        max_length=30,
        choices=DisclosurePurpose.choices,
        default=DisclosurePurpose.AGGREGATE_STATISTICS,
    )
    report = models.OneToOneField(
        AggregateReport, on_delete=models.PROTECT, related_name="disclosure"
    )
    reference = models.CharField(max_length=200)
    description = models.TextField(help_text="What the figures are, in words.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff; empty for the scheduled job.",
    )
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = "aggregate disclosure"

    def __str__(self) -> str:
        return f"{self.party} received {self.reference} ({self.occurred_at:%d %b %Y})"
