"""The surveys app's part of a legal request's export (``sharing.legal_export``): the person's
survey answers and contest entries sent during the period asked about, and the names and
postal addresses a contest entry carried. An entry anonymised (erasure, or past its survey's
stated period) is no longer the person's, so it is not given."""

from __future__ import annotations

from privacy_site.auth_user import AuthUser
from sharing.legal_export import Period, register_export_source
from sharing.models import DataCategory
from surveys.models import Entry
from surveys.privacy import answer_lines
from surveys.selectors import entries_of


def _entries(person: AuthUser, period: Period) -> list[Entry]:
    return list(
        entries_of(person=person).filter(
            submitted_at__gte=period.starts_at, submitted_at__lt=period.ends_before
        )
    )


def entries(person: AuthUser, period: Period) -> list[dict]:
    return [
        {
            "survey": entry.survey.title,
            "contest": entry.survey.is_contest,
            "entry_number": entry.pk,
            "sent": entry.submitted_at.isoformat(),
            "postcode_district": entry.postcode_district,
            "age_band": entry.get_age_band_display() if entry.age_band else "",
            "answers": answer_lines(entry),
        }
        for entry in _entries(person, period)
    ]


def contest_entry_names(person: AuthUser, period: Period) -> list[dict]:
    return [
        {"name": entry.contact_name, "entry_number": entry.pk,
         "sent": entry.submitted_at.isoformat()}
        for entry in _entries(person, period)
        if entry.contact_name
    ]  # fmt: skip


def contest_entry_addresses(person: AuthUser, period: Period) -> list[dict]:
    return [
        {
            "postal_address": entry.contact_address,
            "postcode": entry.contact_postcode,
            "entry_number": entry.pk,
            "sent": entry.submitted_at.isoformat(),
        }
        for entry in _entries(person, period)
        if entry.contact_address or entry.contact_postcode
    ]


def register() -> None:
    """Offer these to ``sharing.legal_export`` (called from ``SurveysConfig.ready``)."""
    register_export_source(category=DataCategory.SURVEY_ANSWERS, name="entries", source=entries)
    register_export_source(
        category=DataCategory.NAME, name="contest_entry_names", source=contest_entry_names
    )
    register_export_source(
        category=DataCategory.POSTAL_ADDRESS,
        name="contest_entry_addresses",
        source=contest_entry_addresses,
    )
