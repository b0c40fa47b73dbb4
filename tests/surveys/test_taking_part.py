"""Taking part at /surveys/: logged in only, voluntary (only required questions must be
answered, and every label says which), one entry each, never after closing; a contest entry
states in the policy's words that winners' details go to the sponsor, and records the
version of that statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import strip_tags

from consent.services import publish_policy_version
from surveys import statement
from surveys.models import Answer, Entry, SponsorStatement
from surveys.services import EntryError, QuestionSpec
from tests.harness.http import logged_in, text
from tests.surveys.conftest import enter, make_contest, make_survey

pytestmark = pytest.mark.django_db

POLICY_SENTENCE = (
    "Contact information will be used and may be sharedwith the contest/survey sponsors to "
    "notify the winners and award prizes."
)


def test_surveys_are_for_logged_in_people(client, author):
    make_survey(author)
    response = client.get("/surveys/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_shows_open_surveys_and_contests_and_not_drafts(make_user, author, sponsor):
    make_survey(author, title="Checkout survey")
    make_contest(author, sponsor)
    make_survey(author, title="Still a draft", opened=False)
    page = text(logged_in(make_user("ann@example.com")).get("/surveys/"))
    assert "Checkout survey" in page and "Win a camera" in page
    assert "win a Nikon Z50, from Survey and contest sponsors" in page
    assert "Still a draft" not in page


def test_a_draft_survey_is_not_found(make_user, author):
    draft = make_survey(author, opened=False)
    assert logged_in(make_user("ann@example.com")).get(f"/surveys/{draft.pk}/").status_code == 404


def test_every_question_says_whether_it_is_optional_and_the_use_of_answers_is_stated(
    make_user, author
):
    questions = [
        QuestionSpec(text="Your favourite brand?", kind="free_text", required=True),
        QuestionSpec(text="Would you recommend us?", kind="single", choices=["Yes", "No"]),
    ]
    survey = make_survey(author, questions=questions, ask_postcode_district=True, ask_age_band=True)
    page = text(logged_in(make_user("ann@example.com")).get(f"/surveys/{survey.pk}/"))
    assert "Your favourite brand? (required to take part)" in page
    assert "Would you recommend us? (optional)" in page
    assert "Your postcode district (optional)" in page
    assert "Your age (optional)" in page
    assert "Taking part is voluntary" in page
    assert (
        f"Your answers stay linked to you for {survey.answers_kept_days} days after the survey "
        "closes. Then your name and any free-text answers are removed" in page
    )
    assert "monitor and improve how the site is used" in page
    assert (
        "Survey information will be used for purposes of monitoring or improvingthe use and "
        "satisfaction of this site." in page
    )


def test_a_survey_sent_with_nothing_answered_is_accepted(make_user, author):
    # given a survey whose questions are all optional
    survey = make_survey(author, ask_age_band=True)
    ann = make_user("ann@example.com")
    # when Ann sends it blank
    response = logged_in(ann).post(f"/surveys/{survey.pk}/", {}, follow=True)
    # then her entry is kept, with no answers
    assert "Thank you for your answers." in text(response)
    entry = Entry.objects.get(survey=survey, person=ann)
    assert not entry.answers.exists() and entry.age_band == ""


def test_a_required_question_left_blank_is_refused_and_nothing_kept(make_user, author):
    questions = [QuestionSpec(text="Your favourite brand?", kind="free_text", required=True)]
    survey = make_survey(author, questions=questions)
    ann = make_user("ann@example.com")
    response = logged_in(ann).post(f"/surveys/{survey.pk}/", {})
    assert response.status_code == 400
    assert "This field is required." in text(response)
    assert not Entry.objects.exists()


def test_answers_are_kept_as_given(make_user, author):
    survey = make_survey(author, ask_postcode_district=True, ask_age_band=True)
    ann = make_user("ann@example.com")
    q1, q2, q3 = survey.questions.order_by("position")
    easy = q1.choices.get(text="Easy")
    lenses, prints = q2.choices.get(text="Lenses"), q2.choices.get(text="Prints")
    logged_in(ann).post(
        f"/surveys/{survey.pk}/",
        {
            f"question_{q1.pk}": easy.pk,
            f"question_{q2.pk}": [lenses.pk, prints.pk],
            f"question_{q3.pk}": "More tripods, please.",
            "postcode_district": "ls1 ",
            "age_band": "25-34",
        },
    )
    entry = Entry.objects.get(survey=survey, person=ann)
    assert (entry.postcode_district, entry.age_band) == ("LS1", "25-34")
    assert list(Answer.objects.get(entry=entry, question=q1).choices.all()) == [easy]
    assert set(Answer.objects.get(entry=entry, question=q2).choices.all()) == {lenses, prints}
    assert Answer.objects.get(entry=entry, question=q3).text == "More tripods, please."


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("postcode_district", "nowhere", "Enter a postcode district like LS1"),
        ("age_band", "12-17", "Select a valid choice"),
    ],
)
def test_bad_answers_are_refused_with_the_reason(make_user, author, field, value, message):
    survey = make_survey(author, ask_postcode_district=True, ask_age_band=True)
    response = logged_in(make_user("ann@example.com")).post(
        f"/surveys/{survey.pk}/", {field: value}
    )
    assert response.status_code == 400 and message in text(response)
    assert not Entry.objects.exists()


def test_a_choice_from_another_question_is_refused(make_user, author):
    survey = make_survey(author)
    q1, q2, _ = survey.questions.order_by("position")
    with pytest.raises(EntryError, match="Choose from the answers"):
        from surveys.services import submit_entry

        submit_entry(
            survey=survey,
            person=make_user("ann@example.com"),
            answers={q1.pk: [q2.choices.first().pk]},
        )


def test_one_entry_per_person_and_none_after_closing(make_user, author):
    survey = make_survey(author, closes_at=timezone.now() + timedelta(hours=1))
    ann, bob = make_user("ann@example.com"), make_user("bob@example.com")
    enter(survey, ann, q1="Easy")
    with pytest.raises(EntryError, match="already taken part"):
        enter(survey, ann, q1="Hard")
    page = text(logged_in(ann).get(f"/surveys/{survey.pk}/"))
    assert "You took part on" in page and "/accounts/export/" in page
    # when the closing time passes
    survey.closes_at = timezone.now() - timedelta(seconds=1)
    survey.save(update_fields=["closes_at"])
    with pytest.raises(EntryError, match="closed"):
        enter(survey, bob)
    assert "is closed" in text(logged_in(bob).get(f"/surveys/{survey.pk}/"))


# --- Contests: the statement about the sponsor -------------------------------------------------


def test_the_contest_form_states_in_the_policys_words_that_details_go_to_the_sponsor(
    make_user, author, sponsor
):
    contest = make_contest(author, sponsor)
    page = strip_tags(text(logged_in(make_user("ann@example.com")).get(f"/surveys/{contest.pk}/")))
    assert POLICY_SENTENCE in page
    assert (
        "If you win, we give Survey and contest sponsors your name, email address and postal "
        "address, so that they can tell you and send you the prize." in page
    )
    assert "Enter the contest, and let Survey and contest sponsors have my details if I win" in page


def test_a_contest_entry_records_the_version_of_the_statement_shown(make_user, author, sponsor):
    contest = make_contest(author, sponsor)
    ann = make_user("ann@example.com", first_name="Ann", last_name="Lee")
    client = logged_in(ann)
    page = client.get(f"/surveys/{contest.pk}/").content.decode()
    assert 'value="Ann Lee"' in page  # the name is filled in from the account
    digest = statement.digest(POLICY_SENTENCE)
    assert f'name="statement" value="{digest}"' in page

    response = client.post(
        f"/surveys/{contest.pk}/",
        {
            "statement": digest,
            "contact_name": "Ann Lee",
            "contact_address": "1 High Street, Leeds",
            "contact_postcode": "ls14ap",
        },
        follow=True,
    )

    assert "Thank you: your entry is in." in text(response)
    entry = Entry.objects.get(survey=contest, person=ann)
    assert entry.sponsor_statement.text == POLICY_SENTENCE
    assert entry.sponsor_statement.version == 1
    assert entry.contact_postcode == "LS1 4AP"


def test_a_contest_entry_needs_contact_details_for_the_prize(make_user, author, sponsor):
    contest = make_contest(author, sponsor)
    response = logged_in(make_user("ann@example.com")).post(
        f"/surveys/{contest.pk}/",
        {"statement": statement.digest(POLICY_SENTENCE), "contact_postcode": "not one"},
    )
    assert response.status_code == 400
    assert not Entry.objects.exists()


def test_an_entry_made_after_the_statement_changed_is_refused_until_read_again(
    make_user, author, sponsor
):
    # given Ann opened the form under the first statement
    contest = make_contest(author, sponsor)
    ann = make_user("ann@example.com", first_name="Ann")
    client = logged_in(ann)
    shown = statement.digest(POLICY_SENTENCE)
    enter(contest, make_user("bob@example.com", first_name="Bob"))
    # when the policy's sentence about sponsors changes before she sends it
    new_sentence = (
        "Contact information will be shared with the sponsor of a contest only to notify "
        "the winners and award prizes."
    )
    publish_policy_version(
        text=f"Surveys & Contests\nParticipation is voluntary. {new_sentence}\n",
        summary="Sponsors clause reworded.",
        change_type="editorial",
    )
    form = {
        "statement": shown,
        "contact_name": "Ann",
        "contact_address": "1 High Street",
        "contact_postcode": "LS1 4AP",
    }
    response = client.post(f"/surveys/{contest.pk}/", form)
    # then it is refused, and the page shows the new words to read
    assert response.status_code == 400
    assert "has changed since the page was shown" in text(response)
    assert new_sentence in text(response)
    assert not Entry.objects.filter(person=ann).exists()
    # and sent again under them, the entry records the second version
    form["statement"] = statement.digest(new_sentence)
    client.post(f"/surveys/{contest.pk}/", form)
    entry = Entry.objects.get(person=ann)
    assert entry.sponsor_statement.version == 2
    assert entry.sponsor_statement.text == new_sentence
    assert Entry.objects.get(person__email="bob@example.com").sponsor_statement.version == 1
    assert SponsorStatement.objects.count() == 2


def test_no_contest_can_be_entered_under_a_policy_without_the_sponsor_sentence(
    make_user, author, sponsor
):
    contest = make_contest(author, sponsor)
    publish_policy_version(
        text="A policy with nothing on contests.", summary="x", change_type="editorial"
    )
    with pytest.raises(EntryError, match="does not say how winners' details are shared"):
        enter(contest, make_user("ann@example.com"))
