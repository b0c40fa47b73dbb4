"""A person's survey answers and contest entries are in their copy of their data, and are
anonymised when their account is erased: the link to them, their contact details and free
text go; the counts and a past draw stay as they were."""

from __future__ import annotations

import pytest

from accounts.selectors import export_personal_data
from accounts.services import erase_account, request_erasure
from surveys.models import Answer, Entry
from surveys.selectors import survey_results
from surveys.services import draw_winners, verify_draw
from tests.harness.http import logged_in, text
from tests.surveys.conftest import close_now, enter, make_contest, make_survey

pytestmark = pytest.mark.django_db


def test_the_copy_holds_survey_answers_and_contest_entries_with_the_statement(
    author, sponsor, make_user
):
    survey = make_survey(author, ask_age_band=True)
    contest = make_contest(author, sponsor)
    ann = make_user("ann@example.com", first_name="Ann")
    enter(survey, ann, age_band="25-34", q1="Easy", q2=["Lenses", "Prints"], q3="More tripods")
    enter(contest, ann, q1="Hard")
    enter(survey, make_user("bob@example.com"), q3="Bob's own words")

    section = export_personal_data(ann)["surveys"]

    (answers,) = section["survey_entries"]
    assert answers["survey"] == "Checkout survey" and answers["age_band"] == "25 to 34"
    assert answers["answers"] == [
        "How easy was checkout?: Easy",
        "What do you buy?: Lenses / Prints",
        "Anything else?: More tripods",
    ]
    (entry,) = section["contest_entries"]
    assert entry["prize"] == "a Nikon Z50" and entry["sponsor"] == sponsor.name
    assert (entry["name"], entry["postcode"]) == ("Ann Jones", "LS1 4AP")
    assert entry["statement_version"] == 1
    assert "shared" in entry["statement_shown"] and "sponsors" in entry["statement_shown"]
    page = text(logged_in(ann).get("/accounts/export/"))
    assert "Anything else?: More tripods" in page and "Bob" not in page


def test_erasure_anonymises_entries_and_keeps_the_counts_and_the_draw(author, sponsor, make_user):
    # given Ann answered a survey and won a contest
    survey = make_survey(author)
    contest = make_contest(author, sponsor)
    ann = make_user("ann@example.com", first_name="Ann")
    enter(survey, ann, q1="Easy", q3="Ann from Leeds here")
    enter(contest, ann, q1="Easy")
    close_now(contest, author)
    draw = draw_winners(survey=contest, actor=author)
    before = survey_results(survey=survey).questions[0].counts

    # when her account is erased
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)

    # then no entry points at her, her contact details and free text are gone
    assert not Entry.objects.filter(person_id=ann.pk).exists()
    entries = Entry.objects.all()
    assert all(e.person_id is None and e.anonymised_at for e in entries)
    assert all(e.contact_name == e.contact_address == e.contact_postcode == "" for e in entries)
    assert not Answer.objects.exclude(text="").exists()
    # and the choices still count, the draw still checks out
    assert survey_results(survey=survey).questions[0].counts == before
    assert verify_draw(draw)
    assert export_personal_data(ann)["surveys"] == {"survey_entries": [], "contest_entries": []}
