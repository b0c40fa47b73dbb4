"""Aggregate reports for suppliers and advertisers: a supplier's figures for a period, counted
from the checkout's orders, small counts shown as "<10" (and a second figure withheld where
one could be worked out), stored exactly as given, downloadable as CSV, recorded as an
aggregate disclosure to the register's aggregate-only party; made on demand by staff with the
permission and by the daily job (run by a real worker)."""

from __future__ import annotations

import csv
import datetime
import hashlib
import importlib
import io

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from api_keys.models import Scope
from api_keys.services import issue_api_key
from sharing.models import Disclosure
from sharing.order_models import Order
from sharing.report_models import AggregateDisclosure, AggregateReport, SupplierSite
from sharing.services import PartyDetails, change_third_party
from sharing.services.aggregate_reports import (
    AggregateReportError,
    OverlappingPeriod,
    add_supplier_site,
    generate_scheduled_reports,
    generate_supplier_report,
    last_month,
)
from sharing.services.orders import (
    OrderCustomer,
    OrderItem,
    OrderRequest,
    PostalAddress,
    take_order,
)
from sharing.tasks import generate_aggregate_reports_task
from tests.harness.http import text
from tests.sharing.conftest import ADVERTISERS, party, staff_client

pytestmark = [pytest.mark.django_db]
CANON = "Canon UK"
REPORTS = "/admin/sharing/aggregatereport/"
GENERATE = f"{REPORTS}generate/"


@pytest.fixture
def checkout(officer):
    key, _secret = issue_api_key(name="Checkout", scopes=[Scope.ORDERS_WRITE], actor=officer)
    return key


@pytest.fixture
def shop(checkout):
    """Place an order through the intake service, received on ``day`` (moved back, as time
    would)."""
    counter = iter(range(1, 100_000))

    def place(
        buyer: str,
        lines: list[tuple[str, str, int]],
        *,
        day: datetime.date,
        site: str = "",
    ) -> Order:
        taken = take_order(
            system=checkout,
            request=OrderRequest(
                reference=f"JS-{next(counter)}",
                customer=OrderCustomer(
                    email=f"{buyer}@example.com",
                    first_name=buyer.title(),
                    last_name="Buyer",
                    address=PostalAddress(line_1="1 High Street", town="Leeds", postcode="LS1 4AP"),
                ),
                lines=[OrderItem(product=p, supplier=s, quantity=q) for p, s, q in lines],
                marketing_opt_out=True,
                referring_site=site,
            ),
        )
        received = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))
        Order.objects.filter(pk=taken.order.pk).update(received_at=received)
        return taken.order

    return place


def period() -> tuple[datetime.date, datetime.date]:
    return last_month(timezone.localdate())


def in_period(day: int = 10) -> datetime.date:
    return period()[0].replace(day=day)


def rows(report: AggregateReport) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in report.table["rows"]}


@pytest.fixture
def generator(make_user):
    clerk = make_user("reports@jessops.example", is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(codename="generate_aggregatereport"),
        Permission.objects.get(codename="view_aggregatereport"),
    )
    return clerk


# --- What a report holds ----------------------------------------------------------------------


def test_counts_under_ten_are_shown_as_under_ten(shop, generator):
    shop("ann", [("EOS R8", CANON, 2)], day=in_period())
    shop("bob", [("EOS R8", CANON, 1)], day=in_period())

    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    assert rows(report) == {"EOS R8": ["<10", "<10", "<10"], "All products": ["<10", "<10", "<10"]}
    assert report.small_cells == 6


def test_figures_are_counted_per_product_with_distinct_customers_and_sites(
    shop, generator, officer
):
    add_supplier_site(supplier=CANON, host="canon.co.uk", actor=officer)
    for n in range(12):  # 12 customers each buy a lens, 12 units, 6 came from Canon's site
        site = "https://www.canon.co.uk/lenses/" if n % 2 else "https://example.org/"
        shop(f"lens{n}", [("RF 50mm", CANON, 1)], day=in_period(), site=site)
    for n in range(11):  # 11 buy a body and a lens: two products, one order, one customer
        shop(
            f"kit{n}",
            [("EOS R8", CANON, 1), ("RF 50mm", CANON, 1)],
            day=in_period(),
            site="http://canon.co.uk",
        )
    shop("other", [("Alpha 7", "Sony UK", 30)], day=in_period())  # another supplier
    shop("late", [("EOS R8", CANON, 30)], day=period()[1] + datetime.timedelta(days=1))

    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    assert report.table["columns"] == ["product", "customers", "units", "orders_from_your_site"]
    assert rows(report) == {
        "EOS R8": ["11", "11", "11"],
        "RF 50mm": ["23", "23", "17"],
        "All products": ["23", "34", "17"],
    }
    assert (report.small_cells, report.withheld_cells) == (0, 0)


def test_a_small_cell_that_its_column_total_would_give_away_takes_another_with_it(shop, generator):
    for n in range(30):
        shop(f"a{n}", [("Lens cap", CANON, 1)], day=in_period())
    for n in range(15):
        shop(f"b{n}", [("Strap", CANON, 1)], day=in_period())
    shop("c", [("Battery", CANON, 3)], day=in_period())

    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    # units: 3 + 15 + 30 = 48 would give the 3 away; one of the others goes too (which one
    # is drawn, so that it says nothing of their sizes), and the total stays
    units = {product: cells[1] for product, cells in rows(report).items()}
    assert (units["Battery"], units["All products"]) == ("<10", "48")
    assert sorted([units["Lens cap"], units["Strap"]]) in (["15", "withheld"], ["30", "withheld"])


def test_no_person_is_in_the_report(shop, generator):
    for n in range(10):
        shop(f"person{n}", [("EOS R8", CANON, 1)], day=in_period())

    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    assert "person" not in report.csv and "@" not in report.csv
    assert "High Street" not in report.csv and "JS-" not in report.csv


# --- Stored as given, downloaded as stored ----------------------------------------------------


def test_the_csv_is_the_table_with_the_supplier_and_period(shop, generator):
    for n in range(10):
        shop(f"p{n}", [("EOS R8", CANON, 2)], day=in_period())

    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    parsed = list(csv.reader(io.StringIO(report.csv)))
    assert parsed == [
        ["supplier", "period_start", "period_end", "product", *report.table["columns"][1:]],
        [CANON, start.isoformat(), end.isoformat(), "EOS R8", "10", "20", "<10"],
        [CANON, start.isoformat(), end.isoformat(), "All products", "10", "20", "<10"],
    ]
    assert report.sha256 == hashlib.sha256(report.csv.encode()).hexdigest()


def test_the_download_is_the_stored_report_byte_for_byte(shop, generator):
    for n in range(10):
        shop(f"p{n}", [("EOS R8", CANON, 1)], day=in_period())
    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    response = staff_client(generator).get(f"{REPORTS}{report.pk}/csv/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.content == report.csv.encode("utf-8")
    assert hashlib.sha256(response.content).hexdigest() == report.sha256


def test_a_product_a_spreadsheet_would_run_as_a_formula_is_defused(shop, generator):
    shop("ann", [('=HYPERLINK("http://evil.example")', CANON, 1)], day=in_period())

    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    products = [row[3] for row in csv.reader(io.StringIO(report.csv))][1:]
    assert products[0] == """'=HYPERLINK("http://evil.example")"""


def test_a_report_and_its_disclosure_can_never_be_changed_or_deleted(shop, generator):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    for statement in (
        "UPDATE sharing_aggregatereport SET csv = 'forged'",
        "DELETE FROM sharing_aggregatereport",
        "UPDATE sharing_aggregatedisclosure SET reference = 'x'",
        "DELETE FROM sharing_aggregatedisclosure",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)

    assert AggregateReport.objects.get().csv == report.csv


# --- On the record: the aggregate disclosure --------------------------------------------------


def test_a_report_is_recorded_as_an_aggregate_disclosure_without_any_person(shop, generator):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    before = Disclosure.objects.count()

    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )

    disclosure = AggregateDisclosure.objects.get()
    assert disclosure.report == report
    assert disclosure.party == party(ADVERTISERS)
    assert (disclosure.purpose, disclosure.actor) == ("aggregate_statistics", generator)
    assert disclosure.reference == f"aggregate report {report.reference}"
    assert CANON in disclosure.description
    assert Disclosure.objects.count() == before  # no person's disclosure log grows


def test_a_register_that_no_longer_allows_the_party_refuses_the_report(shop, generator, officer):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    advertisers = party(ADVERTISERS)
    ended = PartyDetails(
        **{
            **PartyDetails.of(advertisers).__dict__,
            "active_until": timezone.localdate() - datetime.timedelta(days=1),
        }
    )
    change_third_party(party=advertisers, details=ended, actor=officer, reason="Ended.")

    start, end = period()
    with pytest.raises(AggregateReportError, match="party_not_active"):
        generate_supplier_report(
            supplier=CANON, period_start=start, period_end=end, actor=generator
        )

    assert not AggregateReport.objects.exists()
    assert not AggregateDisclosure.objects.exists()


@pytest.mark.parametrize(
    ("supplier", "start_shift", "end_shift", "message"),
    [
        ("", 0, 0, "Name the supplier"),
        ("Nobody Ltd", 0, 0, "No order has a line"),
        (CANON, 0, 40, "must be over"),
        (CANON, 20, -20, "on or after"),
        (CANON, -400, 0, "at most 366 days"),
    ],
)
def test_a_bad_supplier_or_period_is_refused_and_writes_nothing(
    shop, generator, supplier, start_shift, end_shift, message
):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    start, end = period()

    with pytest.raises(AggregateReportError, match=message):
        generate_supplier_report(
            supplier=supplier,
            period_start=start + datetime.timedelta(days=start_shift),
            period_end=end + datetime.timedelta(days=end_shift),
            actor=generator,
        )

    assert not AggregateReport.objects.exists()


def _counts() -> tuple[int, int]:
    return AggregateReport.objects.count(), AggregateDisclosure.objects.count()


def test_a_period_sharing_some_days_with_an_earlier_report_is_refused(shop, generator):
    # a report of a whole month, then of all but its last day, would give the last day's
    # orders away by subtraction (and one a day longer, the next day's)
    for n in range(12):
        shop(f"a{n}", [("Lens cap", CANON, 1)], day=in_period(10))
    shop("late", [("Lens cap", CANON, 1)], day=period()[1])
    start, end = period()
    first = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )
    before = _counts()

    for other in (
        (start, end - datetime.timedelta(days=1)),
        (start + datetime.timedelta(days=1), end),
        (start - datetime.timedelta(days=1), end),
        (end, end),
    ):
        with pytest.raises(OverlappingPeriod, match=f"shares days with report {first.reference}"):
            generate_supplier_report(
                supplier=CANON, period_start=other[0], period_end=other[1], actor=generator
            )

    assert _counts() == before
    # a period that shares no day with it, or another supplier's, is fine
    day_before = start - datetime.timedelta(days=1)
    generate_supplier_report(
        supplier=CANON, period_start=day_before, period_end=day_before, actor=generator
    )
    shop("b", [("Flash", "Nikon UK", 1)], day=in_period(10))
    generate_supplier_report(
        supplier="Nikon UK", period_start=start, period_end=end, actor=generator
    )


def test_the_same_period_again_is_given_only_with_the_same_figures(shop, generator, officer):
    for n in range(12):
        shop(f"a{n}", [("Lens cap", CANON, 1)], day=in_period(), site="https://canon.co.uk/")
    start, end = period()
    first = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )
    again = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )
    assert again.table == first.table
    # once the supplier's site counts, the same period's figures differ: refused
    add_supplier_site(supplier=CANON, host="canon.co.uk", actor=officer)
    before = _counts()

    with pytest.raises(OverlappingPeriod, match=f"not those of report {first.reference}"):
        generate_supplier_report(
            supplier=CANON, period_start=start, period_end=end, actor=generator
        )

    assert _counts() == before


def test_the_job_skips_a_month_staff_reported_part_of(shop, generator, caplog):
    shop("a", [("Lens cap", CANON, 1)], day=in_period(10))
    shop("b", [("Flash", "Nikon UK", 1)], day=in_period(10))
    start, _ = period()
    generate_supplier_report(
        supplier=CANON, period_start=start, period_end=in_period(15), actor=generator
    )

    run = generate_scheduled_reports()

    assert run.generated == 1 and run.refused == 0
    assert set(AggregateReport.objects.values_list("supplier", "trigger")) == {
        (CANON, "on_demand"),
        ("Nikon UK", "scheduled"),
    }
    assert "skipped: The period shares days with report" in caplog.text


def test_staff_without_the_permission_cannot_generate_through_the_service(shop, make_user):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    viewer = make_user("viewer@jessops.example", is_staff=True)
    start, end = period()

    with pytest.raises(AggregateReportError, match="Only staff allowed"):
        generate_supplier_report(supplier=CANON, period_start=start, period_end=end, actor=viewer)


# --- On demand, in the admin ------------------------------------------------------------------


def test_staff_with_the_permission_generate_a_report_in_the_admin(shop, generator):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    client = staff_client(generator)
    start, end = period()

    assert "Generate a report" in text(client.get(REPORTS))
    response = client.post(GENERATE, {"supplier": CANON, "period_start": start, "period_end": end})

    report = AggregateReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{REPORTS}{report.pk}/change/"
    assert (report.trigger, report.generated_by) == ("on_demand", generator)
    page = text(client.get(response["Location"]))
    assert "Download CSV" in page and "&lt;10" in page


def test_a_bad_period_in_the_admin_is_an_error_on_the_form(shop, generator):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    today = timezone.localdate()

    response = staff_client(generator).post(
        GENERATE, {"supplier": CANON, "period_start": today, "period_end": today}
    )

    assert response.status_code == 400
    assert "must be over" in text(response)
    assert not AggregateReport.objects.exists()


def test_staff_without_the_permission_are_refused_the_generate_page(shop, make_user):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    viewer = make_user("viewer@jessops.example", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_aggregatereport"))
    client = staff_client(viewer)
    start, end = period()

    assert "Generate a report" not in text(client.get(REPORTS))
    assert client.get(GENERATE).status_code == 403
    response = client.post(GENERATE, {"supplier": CANON, "period_start": start, "period_end": end})

    assert response.status_code == 403
    assert not AggregateReport.objects.exists()


def test_staff_without_the_view_permission_cannot_download_a_report(shop, generator, make_user):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())
    start, end = period()
    report = generate_supplier_report(
        supplier=CANON, period_start=start, period_end=end, actor=generator
    )
    other = make_user("other@jessops.example", is_staff=True)

    assert staff_client(other).get(f"{REPORTS}{report.pk}/csv/").status_code == 403


def test_a_supplier_site_is_added_in_the_admin_and_a_bad_host_is_refused(officer):
    client = staff_client(officer)
    page = "/admin/sharing/suppliersite/add/"

    bad = client.post(page, {"supplier": CANON, "host": "https://canon.co.uk/x"})
    good = client.post(page, {"supplier": CANON, "host": "Canon.co.uk"})

    assert bad.status_code == 200 and "host name alone" in text(bad)
    assert good.status_code == 302
    site = SupplierSite.objects.get()
    assert (site.supplier, site.host, site.added_by) == (CANON, "canon.co.uk", officer)


# --- The scheduled job ------------------------------------------------------------------------


def test_the_job_makes_last_months_report_for_each_supplier_once(shop):
    shop("ann", [("EOS R8", CANON, 1), ("Alpha 7", "Sony UK", 2)], day=in_period())
    shop("bob", [("Z6", "Nikon UK", 1)], day=timezone.localdate())  # this month: not yet

    first = generate_scheduled_reports()
    second = generate_scheduled_reports()

    assert (first.generated, first.already_done, first.refused) == (2, 0, 0)
    assert (second.generated, second.already_done) == (0, 2)
    reports = AggregateReport.objects.order_by("supplier")
    assert [r.supplier for r in reports] == [CANON, "Sony UK"]
    assert {(r.trigger, r.generated_by) for r in reports} == {("scheduled", None)}
    assert {(r.period_start, r.period_end) for r in reports} == {period()}
    assert AggregateDisclosure.objects.filter(actor__isnull=True).count() == 2


def test_the_schedule_runs_the_job_every_day():
    from django_celery_beat.models import PeriodicTask

    importlib.import_module("sharing.migrations.0009_beat_aggregate_reports").create(apps, None)

    job = PeriodicTask.objects.get(name="Generate aggregate reports for suppliers")
    assert (job.task, job.enabled) == ("sharing.generate_aggregate_reports", True)
    assert (job.crontab.minute, job.crontab.hour, job.crontab.day_of_month) == ("30", "4", "*")


@pytest.mark.worker
def test_the_scheduled_task_makes_the_reports_on_a_worker(celery_worker, shop):
    shop("ann", [("EOS R8", CANON, 1)], day=in_period())

    result = generate_aggregate_reports_task.delay().get(timeout=60)

    start, end = period()
    assert result == {
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "generated": 1,
        "already_done": 0,
        "refused": 0,
    }
    report = AggregateReport.objects.get()
    assert (report.supplier, report.trigger) == (CANON, "scheduled")
    assert AggregateDisclosure.objects.get().report == report
