"""Every rule of the schedule, on real rows: just inside its period kept, just outside
forgotten exactly as the rule says, rows it does not cover kept, a held person's row kept
and counted, a released or lapsed hold no longer protecting; and a second run changing
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from retention import engine
from retention.models import RetentionRun
from retention.rules import Action
from retention.schedule import BY_KEY, RULES
from tests.retention.cases import (
    CASES,
    SURVEY_DAYS,
    Case,
    _survey_entry_by_closes_at,
    period_end,
    person,
    row_values,
)

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
DAYS = 10  # every rule with a period of its own is given this one, through its setting


def test_every_rule_of_the_schedule_has_a_case():
    assert set(CASES) == set(BY_KEY)
    assert len(RULES) == len(BY_KEY), "rule keys are unique"


@pytest.fixture
def short_periods(settings):
    for rule in RULES:
        if rule.due_at is None:
            setattr(settings, rule.setting, DAYS)


def make(case: Case, at, who=None):
    if case.makes_its_person:
        pk = case.make(at, None)
        return pk, case.model._default_manager.get(pk=pk)
    who = who or person()
    return case.make(at, who), who


@pytest.mark.parametrize("key", sorted(CASES))
def test_a_rule_forgets_just_outside_its_period_and_keeps_the_rest(
    key, short_periods, hold, released_hold, lapsed_hold
):
    rule, case = BY_KEY[key], CASES[key]
    now = timezone.now()
    if rule.due_at is None:
        assert rule.cutoff(now) == now - timedelta(days=DAYS), "the setting gives the period"
    end = period_end(key, now)

    inside, _ = make(case, end + MINUTE)
    outside, _ = make(case, end - MINUTE)
    uncovered = case.uncovered(end - timedelta(days=400))
    protected = []
    if rule.person:
        held_row, held_person = make(case, end - MINUTE)
        hold(held_person)
        for place in (released_hold, lapsed_hold):
            pk, who = make(case, end - MINUTE)
            place(who)
            protected.append(pk)
    before = {pk: row_values(case.model, pk) for pk in [inside, outside, *uncovered, *protected]}
    if rule.person:
        before[held_row] = row_values(case.model, held_row)

    outcome = engine.run(rule)

    # then the row just outside, and those whose hold ended, are forgotten
    for pk in [outside, *protected]:
        case.forgotten(pk, before[pk])
    # the row just inside, the rows the rule does not cover and the held row are as they were
    kept = [inside, *uncovered] + ([held_row] if rule.person else [])
    for pk in kept:
        assert row_values(case.model, pk) == before[pk], f"row {pk} changed"
    # and the run record counts it all
    record = RetentionRun.objects.get(pk=outcome.run_id)
    changed = 1 + len(protected)
    counter = "deleted" if rule.action is Action.DELETE else "trimmed"
    assert getattr(record, counter) == changed
    assert record.deleted + record.trimmed == changed
    assert record.skipped_held == (1 if rule.person else 0) == outcome.held
    assert record.outcome == RetentionRun.Outcome.FINISHED and record.rule == key
    assert record.finished_at >= record.started_at and record.batches >= 1
    assert record.cutoff == outcome.cutoff

    # a second run changes nothing and still reports the held row
    state = {pk: _state(case, pk) for pk in [*before]}
    again = engine.run(rule)
    assert (again.deleted, again.trimmed) == (0, 0)
    assert {pk: _state(case, pk) for pk in [*before]} == state
    second = RetentionRun.objects.get(pk=again.run_id)
    assert (second.deleted, second.trimmed, second.batches) == (0, 0, 0)
    assert second.skipped_held == (1 if rule.person else 0)


def _state(case: Case, pk):
    rows = case.model._default_manager.filter(pk=pk).values()
    return list(rows)


def test_a_survey_without_a_closed_time_counts_from_its_closing_date(settings):
    now = timezone.now()
    inside = _survey_entry_by_closes_at(now + MINUTE, person())
    outside = _survey_entry_by_closes_at(now - MINUTE, person())

    outcome = engine.run(BY_KEY["survey_answers"])

    from surveys.models import Entry

    assert Entry.objects.get(pk=inside).person_id is not None
    assert Entry.objects.get(pk=outside).person_id is None
    assert outcome.trimmed == 1


def test_each_survey_keeps_answers_for_its_own_period():
    from surveys.models import Entry, Survey

    now = timezone.now()
    # both closed 40 days ago: one keeps answers 30 days, the other 60
    short = _survey_entry_by_closes_at(now - timedelta(days=10), person())
    long = _survey_entry_by_closes_at(now - timedelta(days=10), person())
    Survey.objects.filter(entries=long).update(answers_kept_days=SURVEY_DAYS * 2)

    engine.run(BY_KEY["survey_answers"])

    assert Entry.objects.get(pk=short).anonymised_at is not None
    assert Entry.objects.get(pk=long).anonymised_at is None
