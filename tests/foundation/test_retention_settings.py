"""The retention settings are checked at start-up: a negative period, an unbounded batch or a
rule naming a field that no longer exists stops ``manage.py check``."""

from __future__ import annotations

import dataclasses

from retention import checks
from retention.schedule import RULES, rule


def ids(errors) -> list[str]:
    return [error.id for error in errors]


def test_the_schedule_as_shipped_passes():
    assert checks.check_retention() == []


def test_a_negative_period_or_an_unbounded_batch_is_refused(settings):
    settings.RETENTION_COOKIE_CHOICES_DAYS = -1
    settings.RETENTION_BATCH_SIZE = 0

    assert ids(checks.check_retention()) == ["retention.E001", "retention.E004"]


def test_a_rule_naming_a_missing_field_is_refused(monkeypatch):
    broken = dataclasses.replace(rule("delivery_content"), trim={"no_such_field": ""})
    monkeypatch.setattr(checks, "RULES", (*RULES, broken))

    errors = checks.check_retention()

    assert ids(errors) == ["retention.E003"]
    assert "no_such_field" in errors[0].msg
