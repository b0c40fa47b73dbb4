"""The record of processing built from the register: what, why, to whom and how long, as an
admin page and a CSV download, for staff who may view the register only."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from sharing.services import PartyDetails, change_third_party
from tests.harness.http import text
from tests.sharing.conftest import ADVERTISERS, BANK, CEWE, COURTS, party, staff_client

pytestmark = pytest.mark.django_db
PAGE = "/admin/sharing/thirdparty/record-of-processing/"
CSV = "/admin/sharing/thirdparty/record-of-processing/csv/"


@pytest.fixture
def viewer(make_user):
    user = make_user("dpo@jessops.example", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_thirdparty"))
    return staff_client(user)


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_page_lists_each_recipient_with_what_why_and_how_long(viewer):
    response = viewer.get(PAGE)

    assert response.status_code == 200
    page = text(response)
    assert "Record of processing" in page
    for name in (BANK, CEWE, ADVERTISERS, COURTS):
        assert name in page
    assert "Authorising your card payment" in page
    assert "Name, Postal address" in page
    assert "No personal data" in page  # the aggregate-only recipient
    assert "With consent to: Jessops Photo offers (CEWE)" in page
    assert "secondary purpose" in page
    assert 'href="/admin/sharing/thirdparty/record-of-processing/csv/"' in page


def test_the_register_links_to_the_record(viewer):
    assert PAGE in viewer.get("/admin/sharing/thirdparty/").content.decode()


def test_the_csv_has_one_row_per_recipient(viewer):
    response = viewer.get(CSV)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="record-of-processing-')
    rows = {row["recipient"]: row for row in csv_rows(response)}
    assert len(rows) == 7
    assert rows[BANK] == {
        "recipient": BANK,
        "role": "Processor (acts only on our instructions)",
        "purposes": "Authorising your card payment",
        "what_they_do_with_it": party(BANK).purpose_description,
        "consent_purposes": "",
        "kinds_of_data": "Name; Postal address",
        "retention": party(BANK).retention_promise,
        "active_from": "2026-01-01",
        "active_until": "",
        "active_today": "yes",
        "contract_reference": "",
        "privacy_contact": "",
    }
    assert rows[CEWE]["consent_purposes"] == "Jessops Photo offers (CEWE)"
    assert rows[ADVERTISERS]["kinds_of_data"] == ""


def test_an_ended_party_stays_in_the_record_marked_inactive(viewer, officer):
    bank = party(BANK)
    yesterday = timezone.localdate() - timedelta(days=1)
    change_third_party(
        party=bank,
        details=replace(
            PartyDetails.of(bank),
            active_from=yesterday - timedelta(days=10),
            active_until=yesterday,
        ),
        actor=officer,
        reason="Changed bank.",
    )

    rows = {row["recipient"]: row for row in csv_rows(viewer.get(CSV))}

    assert rows[BANK]["active_today"] == "no"
    assert rows[BANK]["active_until"] == yesterday.isoformat()


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_defused(viewer, officer):
    bank = party(BANK)
    change_third_party(
        party=bank,
        details=replace(PartyDetails.of(bank), contract_reference="=HYPERLINK(1)"),
        actor=officer,
        reason="Contract.",
    )

    rows = {row["recipient"]: row for row in csv_rows(viewer.get(CSV))}

    assert rows[BANK]["contract_reference"] == "'=HYPERLINK(1)"


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_staff_without_the_view_permission_are_refused(make_user, url):
    clerk = make_user("clerk@jessops.example", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_consentevent"))

    response = staff_client(clerk).get(url)

    assert response.status_code == 403


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_customers_and_visitors_are_sent_to_the_admin_login(client, make_user, url):
    assert client.get(url)["Location"].startswith("/admin/login/")
    customer = staff_client(make_user("ann@example.com"))
    assert customer.get(url)["Location"].startswith("/admin/login/")


# --- The retention schedule in the record ------------------------------------------------------

RETENTION_CSV = "/admin/sharing/thirdparty/record-of-processing/retention.csv"


def test_the_record_lists_the_retention_schedule_with_todays_periods(viewer, settings):
    settings.RETENTION_PROVIDER_EVENTS_DAYS = 60

    page = text(viewer.get(PAGE))

    assert "How long we keep personal data" in page
    assert "Your cookie choices in a browser" in page
    assert "For 1 year from when the choice was made" in page
    assert "For 2 months from when the provider sent it" in page
    assert "RETENTION_PROVIDER_EVENTS_DAYS" in page
    assert f'href="{RETENTION_CSV}"' in page


def test_the_schedule_downloads_as_csv_one_row_per_rule(viewer):
    from retention.schedule import RULES

    response = viewer.get(RETENTION_CSV)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="retention-schedule-')
    rows = {row["rule"]: row for row in csv_rows(response)}
    assert set(rows) == {rule.key for rule in RULES}
    assert rows["ledger_network_details"] == {
        "rule": "ledger_network_details",
        "data": "The network address prefix and browser name recorded with each consent decision",
        "fields": "ip_address, user_agent",
        "kept": "for 2 years from the decision",
        "then": "personal details removed, the rest kept",
        "why": rows["ledger_network_details"]["why"],
        "setting": "RETENTION_LEDGER_NETWORK_DETAILS_DAYS",
    }


def test_staff_without_the_register_get_neither(make_user):
    user = make_user("other@jessops.example", is_staff=True)
    client = staff_client(user)

    assert client.get(PAGE).status_code == 403
    assert client.get(RETENTION_CSV).status_code == 403
