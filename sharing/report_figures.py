"""What an aggregate report for a supplier holds: its figures for a period, counted from the
orders' lines, and the table as published (small counts suppressed) and as a CSV file.

Per product the supplier sold in the period, and for all of them together:

- **customers** who bought it: distinct accounts, each order without one (its buyer's account
  was closed or erased when it came in) counting as one more customer;
- **units** bought;
- **orders from your site**: orders containing it that came from one of the supplier's own
  sites (``SupplierSite``).

Customers and orders from the site are distinct counts: the total of a column is not the sum
of its products (one customer may buy several), which the suppression knows. No name, address,
account or order reference is read, let alone published.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django.db.models import Aggregate, Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.crypto import salted_hmac

from privacy_site.downloads import spreadsheet_row
from sharing.order_models import OrderLine
from sharing.report_models import SupplierSite
from sharing.suppression import Line, LineKind, Mark, shown, suppress

ALL_PRODUCTS = "All products"
COLUMNS = ["customers", "units", "orders_from_your_site"]
CSV_HEADER = ["supplier", "period_start", "period_end", "product", *COLUMNS]
# Column by column: how its total relates to its cells, and the least a product's cell can be
# (a product is listed only if someone bought at least one).
KINDS = {
    "customers": (LineKind.DISTINCT, 1),
    "units": (LineKind.SUM, 1),
    "orders_from_your_site": (LineKind.DISTINCT, 0),
}


@dataclass(frozen=True)
class Figures:
    """One row of the report before suppression."""

    product: str
    customers: int
    units: int
    orders_from_your_site: int


@dataclass(frozen=True)
class PublishedTable:
    columns: list[str]
    rows: list[list[str]]
    small_cells: int
    withheld_cells: int

    def as_json(self) -> dict[str, object]:
        return {"columns": self.columns, "rows": self.rows}


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's first and last day, local time, as [since, until)."""
    zone = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return since, until


def supplier_sites(supplier: str) -> list[str]:
    return list(SupplierSite.objects.filter(supplier=supplier).values_list("host", flat=True))


def _from_sites(hosts: list[str]) -> Q:
    """Orders whose referring site is one of ``hosts`` or under one of them."""
    match = Q()
    for host in hosts:
        pattern = rf"^https?://([^/?#@]*\.)?{re.escape(host)}(:[0-9]+)?([/?#]|$)"
        match |= Q(order__referring_site__iregex=pattern)
    return match


def _counts(hosts: list[str]) -> dict[str, Aggregate]:
    counts: dict[str, Aggregate] = {
        "accounts": Count("order__customer", distinct=True),
        "unlinked": Count("order", distinct=True, filter=Q(order__customer__isnull=True)),
        "units_bought": Sum("quantity"),
    }
    if hosts:  # no site: no order came from one
        counts["referred"] = Count("order", distinct=True, filter=_from_sites(hosts))
    return counts


def supplier_lines(*, supplier: str, start: date, end: date) -> QuerySet[OrderLine]:
    since, until = period_bounds(start, end)
    return OrderLine.objects.filter(
        supplier=supplier, order__received_at__gte=since, order__received_at__lt=until
    )


def supplier_figures(*, supplier: str, start: date, end: date) -> tuple[list[Figures], Figures]:
    """The supplier's figures per product (by name) and for all its products."""
    lines = supplier_lines(supplier=supplier, start=start, end=end)
    counts = _counts(supplier_sites(supplier))
    # (The stubs can't type annotations given as **kwargs: rows are plain dicts.)
    per_product = cast(
        Iterable[dict[str, Any]],
        lines.values("product").annotate(**counts).order_by("product"),
    )
    products = [_figures(row["product"], row) for row in per_product]
    return products, _figures(ALL_PRODUCTS, lines.aggregate(**counts))


def _figures(product: str, counted: dict[str, Any]) -> Figures:
    return Figures(
        product=product,
        customers=counted["accounts"] + counted["unlinked"],
        units=counted["units_bought"] or 0,
        orders_from_your_site=counted.get("referred") or 0,
    )


def publish(products: list[Figures], total: Figures) -> PublishedTable:
    """The table with small counts suppressed: each column is a line, its total the total
    row's cell (cells are numbered column by column)."""
    rows = [*products, total]
    values: list[int] = []
    minimums: list[int] = []
    lines: list[Line] = []
    for column in COLUMNS:
        kind, least = KINDS[column]
        start = len(values)
        values += [getattr(row, column) for row in rows]
        minimums += [least] * len(products) + [least if products else 0]
        lines.append(Line(tuple(range(start, start + len(products))), start + len(products), kind))
    height = len(rows)
    customers, units, orders = (COLUMNS.index(name) * height for name in COLUMNS)
    # In every row, customers and orders from the site are at most the units: each of them
    # bought at least one. A reader knows it, so the suppression does too.
    relations = [
        (first + row, units + row) for first in (customers, orders) for row in range(height)
    ]
    # Which figure is withheld is drawn with a key readers don't have, from the figures
    # themselves: the same table is always published alike, and the choice tells nothing.
    seed = salted_hmac("sharing.suppression", json.dumps(values), algorithm="sha256").digest()
    marks = suppress(values, lines=lines, minimums=minimums, relations=relations, seed=seed)
    published = [
        [row.product]
        + [shown(values[c * height + r], marks[c * height + r]) for c, _ in enumerate(COLUMNS)]
        for r, row in enumerate(rows)
    ]
    return PublishedTable(
        columns=["product", *COLUMNS],
        rows=published,
        small_cells=sum(mark is Mark.SMALL for mark in marks),
        withheld_cells=sum(mark is Mark.WITHHELD for mark in marks),
    )


def report_csv(*, supplier: str, start: date, end: date, table: PublishedTable) -> str:
    """The CSV file of a report: a header, then one row per product and the total row, each
    with the supplier and the period; text a spreadsheet would run as a formula defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for row in table.rows:
        product, *cells = row
        writer.writerow(
            spreadsheet_row([supplier, start.isoformat(), end.isoformat(), product, *cells])
        )
    return buffer.getvalue()
