"""Aggregate reports for suppliers and advertisers: a supplier's figures for a period
(``sharing.report_figures``), small counts suppressed (``sharing.suppression``), stored with
exactly what they contained and recorded as an aggregate disclosure to the register's
aggregate-only party, in one transaction.

Made on demand by staff (``generate_supplier_report`` with an ``actor``) and by the scheduled
job (``generate_scheduled_reports``: every supplier that sold something in the last calendar
month, once each). Adding a supplier's own sites (``add_supplier_site``) lets its report count
the orders referred from them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from privacy_site.staff import is_active_staff
from sharing.models import ThirdParty
from sharing.order_models import OrderLine
from sharing.report_figures import period_bounds, publish, report_csv, supplier_figures
from sharing.report_models import AggregateReport, ReportTrigger, SupplierSite

from .aggregate_disclosures import record_aggregate_disclosure
from .disclosures import DisclosureRefused

logger = logging.getLogger(__name__)

GENERATE_PERMISSION = "sharing.generate_aggregatereport"
ADD_SITE_PERMISSION = "sharing.add_suppliersite"
SUPPLIER_MAX = 200
HOST = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class AggregateReportError(ValueError):
    """The report can't be made (nothing was written); the message says why."""


class OverlappingPeriod(AggregateReportError):
    """An earlier report for the supplier shares days with the period without being the same
    period, or is the same period with other figures: one report subtracted from the other
    could give small counts away."""


@dataclass(frozen=True)
class ScheduledRun:
    period_start: date
    period_end: date
    generated: int
    already_done: int
    refused: int


def _check_period(start: date, end: date, today: date) -> None:
    if end < start:
        raise AggregateReportError("The period must end on or after its first day.")
    if end >= today:
        raise AggregateReportError(
            "The period must be over: its last day must be before today, so that its figures "
            "no longer change."
        )
    if (end - start).days + 1 > settings.SHARING_REPORT_MAX_DAYS:
        raise AggregateReportError(
            f"A report covers at most {settings.SHARING_REPORT_MAX_DAYS} days."
        )


def _aggregate_party() -> ThirdParty:
    party = ThirdParty.objects.filter(name__iexact=settings.SHARING_AGGREGATE_PARTY).first()
    if party is None:
        raise AggregateReportError(
            f"The register has no party named {settings.SHARING_AGGREGATE_PARTY!r} "
            "(SHARING_AGGREGATE_PARTY) to give the report to."
        )
    return party


def _describe(report: AggregateReport) -> str:
    return (
        f"Aggregate figures for {report.supplier}, {report.period_start:%d %b %Y} to "
        f"{report.period_end:%d %b %Y}: per product and in all, customers who bought it, "
        f"units and orders from the supplier's own sites; counts under 10 shown as '<10' "
        f"({report.small_cells}), {report.withheld_cells} more withheld. No person is named."
    )


@transaction.atomic
def generate_supplier_report(
    *,
    supplier: str,
    period_start: date,
    period_end: date,
    actor: AuthUser | None,
) -> AggregateReport:
    """Make, store and record ``supplier``'s report for the period (its first and last day):
    on demand by staff ``actor`` (who needs ``sharing.generate_aggregatereport``), or by the
    scheduled job (``actor`` None). Raises ``AggregateReportError``, writing nothing, for a
    bad supplier or period, a missing permission, or a register that refuses the party."""
    supplier = supplier.strip()
    if not supplier or len(supplier) > SUPPLIER_MAX:
        raise AggregateReportError("Name the supplier, as the orders' lines spell it.")
    if actor is not None and not is_active_staff(actor, GENERATE_PERMISSION):
        raise AggregateReportError("Only staff allowed to generate aggregate reports may.")
    _check_period(period_start, period_end, timezone.localdate())
    if not OrderLine.objects.filter(supplier=supplier).exists():
        raise AggregateReportError(f"No order has a line from the supplier {supplier!r}.")
    party = _aggregate_party()
    same_period = _check_no_overlap(supplier, period_start, period_end)
    products, total = supplier_figures(supplier=supplier, start=period_start, end=period_end)
    table = publish(products, total)
    for earlier in same_period:
        if earlier.table != table.as_json():
            raise OverlappingPeriod(
                f"The figures for this period are not those of report {earlier.reference} "
                "(a supplier's site added since, say): a second report would let the "
                f"difference be worked out. Give {earlier.reference} again instead."
            )
    content = report_csv(supplier=supplier, start=period_start, end=period_end, table=table)
    report = AggregateReport.objects.create(
        party=party,
        supplier=supplier,
        period_start=period_start,
        period_end=period_end,
        trigger=ReportTrigger.SCHEDULED if actor is None else ReportTrigger.ON_DEMAND,
        generated_by=actor,
        generated_at=timezone.now(),
        table=table.as_json(),
        csv=content,
        sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(),
        small_cells=table.small_cells,
        withheld_cells=table.withheld_cells,
    )
    try:
        record_aggregate_disclosure(
            party=party,
            report=report,
            reference=f"aggregate report {report.reference}",
            description=_describe(report),
            actor=actor,
        )
    except DisclosureRefused as refusal:
        raise AggregateReportError(str(refusal)) from refusal
    return report


def _check_no_overlap(supplier: str, start: date, end: date) -> list[AggregateReport]:
    """The supplier's earlier reports of exactly this period; ``OverlappingPeriod`` if one
    shares only some days with it. Two reports of a supplier are made one at a time (on
    PostgreSQL a transaction lock on the supplier's name), so two overlapping ones can't
    both pass this check."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"sharing.aggregate_report:{supplier}"],
            )
    earlier = list(
        AggregateReport.objects.filter(
            supplier=supplier, period_start__lte=end, period_end__gte=start
        ).order_by("pk")
    )
    for report in earlier:
        if (report.period_start, report.period_end) != (start, end):
            raise OverlappingPeriod(
                f"The period shares days with report {report.reference} for {supplier} "
                f"({report.period_start:%d %b %Y} to {report.period_end:%d %b %Y}): one "
                "subtracted from the other could give small counts away. Choose that "
                "report's exact period, or one that shares no day with it."
            )
    return earlier


def last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def generate_scheduled_reports(*, today: date | None = None) -> ScheduledRun:
    """For beat: each supplier with a line in an order of the last calendar month gets that
    month's report, once (a run that finds them all made writes nothing). Each report is
    its own transaction; one the register refuses is logged at ERROR and left for the next
    run."""
    start, end = last_month(today or timezone.localdate())
    since, until = period_bounds(start, end)
    sold = list(
        OrderLine.objects.filter(order__received_at__gte=since, order__received_at__lt=until)
        .values_list("supplier", flat=True)
        .order_by("supplier")
        .distinct()
    )
    done = set(
        AggregateReport.objects.filter(
            trigger=ReportTrigger.SCHEDULED, period_start=start, period_end=end
        ).values_list("supplier", flat=True)
    )
    generated = refused = 0
    for supplier in sold:
        if supplier in done:
            continue
        try:
            generate_supplier_report(
                supplier=supplier, period_start=start, period_end=end, actor=None
            )
        except IntegrityError:
            done.add(supplier)  # another run made it meanwhile
            continue
        except OverlappingPeriod as overlap:
            # Staff reported on days of this month already: the month can't be given too.
            logger.warning("aggregate report of %r for %s to %s skipped: %s",
                           supplier, start, end, overlap)  # fmt: skip
            done.add(supplier)
            continue
        except AggregateReportError as error:
            logger.error("aggregate report of %r for %s to %s: %s", supplier, start, end, error)
            refused += 1
            continue
        generated += 1
    return ScheduledRun(
        period_start=start,
        period_end=end,
        generated=generated,
        already_done=len(done & set(sold)),
        refused=refused,
    )


def check_supplier_site(*, supplier: str, host: str) -> tuple[str, str]:
    """The supplier and host as they will be stored (trimmed, the host in lower case), or
    ``AggregateReportError`` saying what is wrong."""
    supplier = supplier.strip()
    if not supplier or len(supplier) > SUPPLIER_MAX:
        raise AggregateReportError("Name the supplier, as the orders' lines spell it.")
    host = host.strip().lower().rstrip(".")
    if not HOST.fullmatch(host):
        raise AggregateReportError(
            "Give the site's host name alone, such as canon.co.uk (no https:// or path)."
        )
    if SupplierSite.objects.filter(supplier=supplier, host=host).exists():
        raise AggregateReportError(f"{host} is already one of {supplier}'s sites.")
    return supplier, host


@transaction.atomic
def add_supplier_site(*, supplier: str, host: str, actor: AuthUser) -> SupplierSite:
    """Record ``host`` as one of ``supplier``'s own sites (staff holding
    ``sharing.add_suppliersite``): its report counts the orders referred from it and the
    sites under it. Raises ``AggregateReportError`` (nothing written)."""
    if not is_active_staff(actor, ADD_SITE_PERMISSION):
        raise AggregateReportError("Only staff allowed to add suppliers' sites may.")
    supplier, host = check_supplier_site(supplier=supplier, host=host)
    return SupplierSite.objects.create(
        supplier=supplier, host=host, added_by=actor, added_at=timezone.now()
    )
