"""Staff write surveys and contests in the admin: details and questions in one form, the
sponsor chosen from the register's parties allowed to receive winners' details, every write
recorded; once open, the questions are fixed; steps refused to staff without the right."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sharing.models import ThirdParty
from surveys.admin.surveys import DETAILS
from surveys.models import Question, Survey, SurveyEvent
from surveys.services import SurveyDetails, SurveyError, save_survey
from tests.factories import StaffFactory
from tests.harness.http import logged_in, text
from tests.sharing.conftest import PARCELFORCE
from tests.surveys.conftest import make_contest, make_survey

pytestmark = pytest.mark.django_db


def _form(**fields) -> dict:
    data = {
        "kind": "survey",
        "title": "Delivery survey",
        "introduction": "",
        "closes_at_0": "",
        "closes_at_1": "",
        "prize": "",
        "winners_wanted": "1",
        "answers_kept_days": "365",
        "questions-TOTAL_FORMS": "2",
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "questions-0-text": "Did it arrive on time?",
        "questions-0-kind": "single",
        "questions-0-choices_text": "Yes\nNo\n",
        "questions-1-text": "What could be better?",
        "questions-1-kind": "free_text",
        "questions-1-choices_text": "",
    }
    data.update(fields)
    return data


def test_staff_create_a_survey_with_its_questions_recorded(author):
    response = logged_in(author).post("/admin/surveys/survey/add/", _form(ask_age_band="on"))
    assert response.status_code == 302, text(response)[:2000]
    survey = Survey.objects.get()
    assert survey.ask_age_band and survey.created_by == author
    questions = list(survey.questions.all())
    assert [(q.position, q.text, q.kind, q.required) for q in questions] == [
        (1, "Did it arrive on time?", "single", False),
        (2, "What could be better?", "free_text", False),
    ]
    assert [c.text for c in questions[0].choices.all()] == ["Yes", "No"]
    assert SurveyEvent.objects.get().action == "created"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"questions-0-choices_text": "Only one"}, "needs at least two choices"),
        ({"questions-1-choices_text": "A\nB"}, "is free text: it has no choices"),
        ({"kind": "contest"}, "A contest needs its sponsor"),
        ({"title": ""}, "This field is required"),
        ({"answers_kept_days": "0"}, "Keep answers linked to people for 1 to 3650 days"),
        ({"answers_kept_days": "3651"}, "Keep answers linked to people for 1 to 3650 days"),
        ({"answers_kept_days": ""}, "This field is required"),
        (
            {"questions-0-choices_text": "A" * 201 + "\nNo"},
            "has a choice longer than 200 characters",
        ),
    ],
)
def test_a_bad_survey_is_refused_with_the_reason_and_nothing_written(author, fields, message):
    response = logged_in(author).post("/admin/surveys/survey/add/", _form(**fields))
    assert response.status_code == 200 and message in text(response)
    assert not Survey.objects.exists() and not Question.objects.exists()


def test_the_stated_period_for_answers_is_set_while_a_draft_then_fixed(author):
    client = logged_in(author)
    assert (
        client.post("/admin/surveys/survey/add/", _form(answers_kept_days="90")).status_code == 302
    )
    survey = Survey.objects.get()
    assert survey.answers_kept_days == 90

    survey = make_survey(author, opened=True, answers_kept_days=30)
    page = client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert 'name="answers_kept_days"' not in page


def test_a_contests_sponsor_is_a_party_registered_to_award_prizes(author, sponsor):
    closes = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%d")
    client = logged_in(author)
    page = client.get("/admin/surveys/survey/add/").content.decode()
    assert sponsor.name in page and PARCELFORCE not in page
    carrier = ThirdParty.objects.get(name=PARCELFORCE)
    contest = _form(kind="contest", prize="A tripod", closes_at_0=closes, closes_at_1="12:00:00")
    response = client.post("/admin/surveys/survey/add/", {**contest, "sponsor": carrier.pk})
    assert "Select a valid choice" in text(response)
    response = client.post("/admin/surveys/survey/add/", {**contest, "sponsor": sponsor.pk})
    assert response.status_code == 302
    assert Survey.objects.get().sponsor == sponsor


def test_opening_fixes_the_questions_and_is_recorded(author):
    survey = make_survey(author, opened=False)
    client = logged_in(author)
    client.post(f"/admin/surveys/survey/{survey.pk}/open/")
    survey.refresh_from_db()
    assert survey.status == "open"
    page = client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert "fixed: the survey is open or closed" in page
    assert 'name="questions-0-text"' not in page
    assert list(SurveyEvent.objects.filter(survey=survey).values_list("action", flat=True)) == [
        "opened",
        "created",
    ]


def test_writing_the_invitation_gives_a_draft_campaign_to_preview(author):
    survey = make_survey(author)
    response = logged_in(author).post(f"/admin/surveys/survey/{survey.pk}/invite/")
    survey.refresh_from_db()
    assert response["Location"] == f"/admin/communications/campaign/{survey.invitation_id}/change/"
    assert survey.invitation.status == "draft"
    assert f"/surveys/{survey.pk}/" in survey.invitation.body
    assert SurveyEvent.objects.filter(action="invitation_written").exists()


def test_steps_are_refused_to_staff_without_the_right(author):
    survey = make_survey(author, opened=False)
    viewer = StaffFactory(email="val@jessops.example", permissions=["surveys.view_survey"])
    response = logged_in(viewer).post(f"/admin/surveys/survey/{survey.pk}/open/", follow=True)
    assert "Only a member of staff with the permission" in text(response)
    survey.refresh_from_db()
    assert survey.status == "draft"
    assert logged_in(viewer).get(f"/admin/surveys/survey/{survey.pk}/open/").status_code == 405


def test_a_survey_is_never_deleted(author):
    survey = make_survey(author)
    response = logged_in(author).get(f"/admin/surveys/survey/{survey.pk}/delete/")
    assert response.status_code == 403


def test_an_open_contests_number_of_winners_is_fixed(author, sponsor):
    # given a contest opened for three winners
    contest = make_contest(author, sponsor, winners_wanted=3)

    # then its page no longer offers the number to change
    page = logged_in(author).get(f"/admin/surveys/survey/{contest.pk}/change/")
    assert 'name="winners_wanted"' not in page.content.decode()
    # and the service refuses the change, before the draw as after it
    details = {name: getattr(contest, name) for name in DETAILS}
    with pytest.raises(SurveyError, match="only its title, introduction and closing date"):
        save_survey(
            survey=contest,
            details=SurveyDetails(**{**details, "winners_wanted": 1}),
            questions=None,
            actor=author,
        )
    contest.refresh_from_db()
    assert contest.winners_wanted == 3
