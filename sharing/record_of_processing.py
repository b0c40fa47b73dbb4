"""The record of processing activities for sharing (UK GDPR Article 30(1)(b)-(f)), built from
the register: for each recipient, what (kinds of data), why (purposes), to whom, and how long
(what the recipient promises about keeping it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from privacy_site.downloads import spreadsheet_safe
from retention.selectors import schedule_lines
from sharing.selectors import register_parties

CSV_HEADER = [
    "recipient",
    "role",
    "purposes",
    "what_they_do_with_it",
    "consent_purposes",
    "kinds_of_data",
    "retention",
    "active_from",
    "active_until",
    "active_today",
    "contract_reference",
    "privacy_contact",
]
# A spreadsheet runs a cell starting with one of these as a formula, so such cells are
# prefixed with an apostrophe (the register's text is typed by staff).


@dataclass(frozen=True)
class ProcessingActivity:
    """One recipient in the register, as the record of processing describes it."""

    recipient: str
    role: str
    purposes: list[str]
    what_they_do_with_it: str
    consent_purposes: list[str]
    kinds_of_data: list[str]
    retention: str
    active_from: date
    active_until: date | None
    active_today: bool
    contract_reference: str
    privacy_contact: str


def record_of_processing() -> list[ProcessingActivity]:
    """Every party in the register (ended ones too, with their dates), by name."""
    today = timezone.localdate()
    return [
        ProcessingActivity(
            recipient=party.name,
            role=party.get_role_display(),
            purposes=party.purpose_labels(),
            what_they_do_with_it=party.purpose_description,
            consent_purposes=[purpose.name for purpose in party.consent_purposes.all()],
            kinds_of_data=party.category_labels(),
            retention=party.retention_promise,
            active_from=party.active_from,
            active_until=party.active_until,
            active_today=party.is_active_on(today),
            contract_reference=party.contract_reference,
            privacy_contact=party.privacy_contact,
        )
        for party in register_parties()
    ]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = "; ".join(value)
    elif isinstance(value, date):
        value = value.isoformat()
    return spreadsheet_safe(str(value))


def record_csv_rows(activities: Iterable[ProcessingActivity]) -> Iterator[list[str]]:
    yield CSV_HEADER
    for activity in activities:
        yield [_cell(getattr(activity, column)) for column in CSV_HEADER]


# --- How long we keep personal data (the retention schedule, retention.schedule) -------------

RETENTION_CSV_HEADER = ["rule", "data", "fields", "kept", "then", "why", "setting"]


def retention_csv_rows() -> Iterator[list[str]]:
    """The retention schedule as the record of processing lists it (Article 30(1)(f)), with
    today's periods."""
    yield RETENTION_CSV_HEADER
    for line in schedule_lines():
        yield [
            spreadsheet_safe(value)
            for value in (
                line.key,
                line.what,
                ", ".join(line.fields),
                line.kept_for,
                line.then,
                line.why,
                line.setting,
            )
        ]
