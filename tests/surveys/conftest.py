"""Fixtures of the surveys tests: staff who write and draw, the register's sponsor, and
surveys and contests made through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sharing.models import ThirdParty
from surveys import statement
from surveys.models import Question, Survey
from surveys.services import (
    ContactDetails,
    QuestionSpec,
    SurveyDetails,
    open_survey,
    save_survey,
    submit_entry,
)
from tests.factories import StaffFactory
from tests.sharing.conftest import SPONSORS, _seeded_register  # noqa: F401

SURVEY_RIGHTS = [
    "surveys.view_survey",
    "surveys.add_survey",
    "surveys.change_survey",
    "surveys.view_results",
    "surveys.draw_winners",
    "surveys.view_winner_contacts",
    "communications.add_campaign",
    "communications.view_campaign",
    "communications.change_campaign",
    "communications.send_campaign",
]

QUESTIONS = [
    QuestionSpec(text="How easy was checkout?", kind="single", choices=["Easy", "Hard"]),
    QuestionSpec(text="What do you buy?", kind="multiple", choices=["Cameras", "Lenses", "Prints"]),
    QuestionSpec(text="Anything else?", kind="free_text"),
]


@pytest.fixture
def author(db):
    """Sam, in Marketing, who writes surveys and contests, sees results and draws winners."""
    return StaffFactory(email="sam@jessops.example", first_name="Sam", permissions=SURVEY_RIGHTS)


@pytest.fixture
def sponsor(db) -> ThirdParty:
    return ThirdParty.objects.get(name=SPONSORS)


def make_survey(actor, *, opened: bool = True, questions=None, **details) -> Survey:
    fields = {"kind": "survey", "title": "Checkout survey", **details}
    survey = save_survey(
        survey=None,
        details=SurveyDetails(**fields),
        questions=list(QUESTIONS if questions is None else questions),
        actor=actor,
    )
    return open_survey(survey=survey, actor=actor) if opened else survey


def make_contest(actor, sponsor, **details) -> Survey:
    fields = {
        "kind": "contest",
        "title": "Win a camera",
        "sponsor": sponsor,
        "prize": "a Nikon Z50",
        "closes_at": timezone.now() + timedelta(days=7),
        **details,
    }
    return make_survey(actor, **fields)


def answers_for(survey: Survey, **by_text) -> dict:
    """Answers keyed by question id, from keywords naming each question by its position
    (``q1=...``) with the text of the choice (or choices) picked, or the free text."""
    questions = {f"q{q.position}": q for q in survey.questions.prefetch_related("choices")}
    answers: dict = {}
    for key, value in by_text.items():
        question = questions[key]
        if question.kind == Question.Kind.FREE_TEXT:
            answers[question.pk] = value
        else:
            wanted = [value] if isinstance(value, str) else value
            answers[question.pk] = [c.pk for c in question.choices.all() if c.text in wanted]
    return answers


def enter(survey: Survey, person, *, postcode_district="", age_band="", **by_text):
    contest = survey.is_contest
    return submit_entry(
        survey=survey,
        person=person,
        answers=answers_for(survey, **by_text),
        postcode_district=postcode_district,
        age_band=age_band,
        contact=ContactDetails(
            name=f"{person.first_name} Jones", address="1 High Street\nLeeds", postcode="ls1 4ap"
        )
        if contest
        else None,
        statement_digest=statement.digest(statement.sponsor_sentence()) if contest else "",
    )


def close_now(survey: Survey, actor) -> Survey:
    """Move the closing time to now (entries made before it count)."""
    details = {
        name: getattr(survey, name)
        for name in (
            "kind",
            "title",
            "introduction",
            "ask_postcode_district",
            "ask_age_band",
            "sponsor",
            "prize",
            "winners_wanted",
        )
    }
    return save_survey(
        survey=survey,
        details=SurveyDetails(**details, closes_at=timezone.now()),
        questions=None,
        actor=actor,
    )
