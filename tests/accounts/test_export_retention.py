"""The person's copy says how long each part of it is kept: every section, in the copy's own
shape, with the retention schedule's periods as configured."""

from __future__ import annotations

import json

import pytest

from accounts.selectors import export_personal_data
from tests.factories import UserFactory
from tests.harness.http import logged_in, text

pytestmark = pytest.mark.django_db

EXPORT = "/accounts/export/"
META = {"format", "generated_at", "controller", "how_long_we_keep_it"}


def sections(data: dict) -> dict:
    """The copy's sections and, for each lower app's, its parts."""
    return {
        name: (set(value) if isinstance(value, dict) and name not in OWN else None)
        for name, value in data.items()
        if name not in META
    }


OWN = {"account", "profile"}


def test_every_section_of_the_copy_says_how_long_it_is_kept():
    person = UserFactory(email="kept@example.com", verified=True)

    data = export_personal_data(person)

    kept = data["how_long_we_keep_it"]
    for name, parts in sections(data).items():
        assert name in kept, name
        if parts is None:
            assert isinstance(kept[name], str) and len(kept[name]) > 20, name
        else:
            assert set(kept[name]) == parts, name
            for part, statement in kept[name].items():
                assert isinstance(statement, str) and len(statement) > 20, (name, part)
    assert set(kept) == set(sections(data))


def test_the_scheduled_parts_state_the_configured_periods(settings):
    person = UserFactory(email="kept@example.com", verified=True)
    settings.RETENTION_COOKIE_CHOICES_DAYS = 180
    settings.RETENTION_PROVIDER_EVENTS_DAYS = 45
    settings.RETENTION_UNVERIFIED_ACCOUNTS_DAYS = 14

    kept = export_personal_data(person)["how_long_we_keep_it"]

    assert (
        "Kept for 6 months from when the choice was made, then deleted"
        in (kept["consent"]["cookie_choices"])
    )
    assert "45 days from when the provider sent it" in kept["emails"]["provider_reports"]
    assert "14 days from when the account was opened" in kept["account"]
    assert "2 years from the decision" in kept["consent"]["consent_history"]
    assert "the period each survey states" in kept["surveys"]["survey_entries"]


def test_the_page_and_the_download_both_carry_it(settings):
    person = UserFactory(email="kept@example.com", verified=True)
    client = logged_in(person)

    page = text(client.get(EXPORT))
    download = json.loads(client.get(EXPORT, {"format": "json"}).content)

    assert "How long we keep it" in page
    assert "Consent: cookie choices" in page
    assert "Kept for 1 year from when the choice was made, then deleted." in page
    assert download["how_long_we_keep_it"]["emails"]["emails"].startswith(
        "Each email's address, personalised content and error text: Kept for 30 days"
    )
