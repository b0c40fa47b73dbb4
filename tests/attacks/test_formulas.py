"""Every CSV the product makes, with values a spreadsheet would run as formulas and with
markup: each such cell comes out defused (an apostrophe in front), each file is an attachment
a browser won't render, and every CSV writer in the code goes through the one neutraliser."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from django.conf import settings

from consent.services import ConsentSource, grant_consent
from privacy_site.downloads import FORMULA_PREFIXES, csv_download
from sharing.services import PartyDetails, change_third_party
from staff_access.models import StaffAccess
from surveys.services import draw_winners
from tests.factories import UserFactory
from tests.harness.http import logged_in
from tests.sharing.conftest import BANK, SPONSORS, party
from tests.surveys.conftest import close_now, enter, make_contest

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


def cells(response) -> list[str]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return [cell for row in csv.reader(io.StringIO(body.decode())) for cell in row]


def assert_defused(response, planted: list[str]) -> None:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    found = cells(response)
    running = [cell for cell in found if cell.startswith(FORMULA_PREFIXES)]
    assert not running, running
    for value in planted:
        assert any(value in cell for cell in found), value
        for cell in found:
            if cell.endswith(value) and value.startswith(FORMULA_PREFIXES):
                assert cell.startswith("'"), cell


# --- Each CSV download, with hostile values where its free text comes from ------------------


def consent_ledger(superuser):
    planted = []
    for n, formula in enumerate(FORMULAS[:3]):
        # An address may start with = + - (RFC 5322 allows them in the local part).
        email = f"{formula[0]}{n}evil@example.com"
        user = UserFactory(email=email, first_name=SCRIPT)
        grant_consent(subject=user, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
        planted.append(email)
    return logged_in(superuser).get("/admin/consent/consentevent/export-csv/"), planted


def staff_access_record(superuser):
    client = logged_in(superuser)
    for n, formula in enumerate(FORMULAS):
        # A search is recorded when it finds someone: each finds the person it names.
        UserFactory(email=f"s{n}@example.com", first_name=formula)
        client.get("/admin/accounts/user/", {"q": formula})
    ids = list(StaffAccess.objects.values_list("pk", flat=True))
    assert StaffAccess.objects.filter(search_term__in=FORMULAS).exists()
    response = client.post(
        "/admin/staff_access/staffaccess/",
        {"action": "export_csv", "_selected_action": ids},
    )
    return response, [f for f in FORMULAS if f.strip() == f]


def record_of_processing(superuser):
    bank = party(BANK)
    change_third_party(
        party=bank,
        details=replace(PartyDetails.of(bank), contract_reference=FORMULAS[0] + SCRIPT),
        actor=superuser,
        reason=FORMULAS[3],
    )
    response = logged_in(superuser).get("/admin/sharing/thirdparty/record-of-processing/csv/")
    return response, [FORMULAS[0] + SCRIPT]


def retention_schedule(superuser):
    return logged_in(superuser).get(
        "/admin/sharing/thirdparty/record-of-processing/retention.csv"
    ), []


def contest_winners(superuser):
    author = superuser
    sponsor = party(SPONSORS)
    contest = make_contest(author, sponsor, winners_wanted=3)
    for n, formula in enumerate(FORMULAS[:3]):
        enter(contest, UserFactory(email=f"w{n}@example.com", first_name=formula), q1="Easy")
    close_now(contest, author)
    draw_winners(survey=contest, actor=author)
    response = logged_in(author).get(f"/admin/surveys/survey/{contest.pk}/winners.csv")
    return response, [f"{formula} Jones" for formula in FORMULAS[:3]]


DOWNLOADS = {
    "consent ledger export": consent_ledger,
    "record of staff access": staff_access_record,
    "record of processing": record_of_processing,
    "retention schedule": retention_schedule,
    "contest winners for the sponsor": contest_winners,
}


@pytest.mark.parametrize("name", DOWNLOADS)
def test_every_csv_download_defuses_formulas_and_is_never_rendered(name, superuser):
    response, planted = DOWNLOADS[name](superuser)

    assert_defused(response, planted)


def test_a_cell_the_caller_forgot_is_defused_by_the_download_itself():
    response = csv_download([["header"], *([value] for value in FORMULAS), [-5], [""]], "x.csv")

    assert cells(response) == ["header", *("'" + value for value in FORMULAS), "-5", ""]


# --- Every CSV writer in the code is one of these -------------------------------------------

PRODUCT = ("accounts", "api_keys", "communications", "consent", "privacy_site", "retention")
PRODUCT += ("sharing", "staff_access", "surveys")
WRITES_CSV = re.compile(r"csv\.(?:writer|DictWriter)|text/csv")
CALLS_DOWNLOAD = re.compile(r"\b(?:csv_download|stored_csv_download)\(")
# Where CSV is written: the download every admin view streams through, and the aggregate
# report's file (kept as made; it defuses with the same ``spreadsheet_row``).
WRITERS = {"privacy_site/downloads.py", "sharing/report_figures.py"}
# Who hands rows to a download, and the download above that covers them.
CALLERS = {
    "consent/admin.py": "consent ledger export",
    "staff_access/admin.py": "record of staff access",
    "sharing/admin.py": "record of processing, retention schedule",
    "surveys/admin/steps.py": "contest winners for the sponsor",
    # The stored aggregate report: tests/sharing/test_aggregate_reports.py
    "sharing/report_admin.py": "aggregate report",
}


def _sources():
    for app in PRODUCT:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path.relative_to(settings.BASE_DIR).as_posix(), path.read_text()


def test_every_csv_writer_and_download_in_the_code_is_covered_here():
    sources = dict(_sources())

    assert {name for name, text in sources.items() if WRITES_CSV.search(text)} == WRITERS
    callers = {
        name
        for name, text in sources.items()
        if CALLS_DOWNLOAD.search(text) and name != "privacy_site/downloads.py"
    }
    assert callers == set(CALLERS)
    assert "spreadsheet_row(" in sources["sharing/report_figures.py"]
