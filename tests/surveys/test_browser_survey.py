"""In Chromium: a customer finds the survey from the site's navigation, takes part leaving an
optional question blank, and enters a contest after reading what goes to the sponsor; every
page works under the Content-Security-Policy and axe finds nothing serious."""

from __future__ import annotations

import pytest

from surveys.models import Entry
from tests.foundation.test_content_security_policy import refused, watched_page  # noqa: F401
from tests.sharing.test_browser_my_data import log_in
from tests.surveys.conftest import make_contest, make_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_takes_a_survey_and_enters_a_contest(
    watched_page,  # noqa: F811
    make_user,
    author,
    sponsor,
):
    page = watched_page
    survey = make_survey(author, ask_age_band=True, ask_postcode_district=True)
    contest = make_contest(author, sponsor)
    ann = make_user("ann@example.com", first_name="Ann", last_name="Lee", verified=True)
    log_in(page, "ann@example.com")

    # the survey, from the navigation
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Surveys").click()
    page.wait_for_url("**/surveys/")
    page.get_by_role("link", name="Checkout survey").click()
    page.wait_for_url(f"**/surveys/{survey.pk}/")
    page.get_by_role("group", name="How easy was checkout? (optional)").get_by_label("Easy").check()
    page.get_by_role("group", name="What do you buy? (optional)").get_by_label("Lenses").check()
    page.get_by_label("Your postcode district (optional)").fill("ls1")
    page.get_by_role("group", name="Your age (optional)").get_by_label("35 to 44").check()
    # "Anything else?" is left blank
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_load_state()
    assert "Thank you for your answers." in page.get_by_role("status").inner_text()
    assert "You took part on" in page.get_by_role("main").inner_text()

    # the contest, after reading what goes to the sponsor
    page.goto("/surveys/")
    page.get_by_role("link", name="Win a camera").click()
    statement = page.get_by_role("region", name=f"If you win: your details go to {sponsor.name}")
    assert "may be sharedwith the contest/survey sponsors" in statement.inner_text()
    assert page.get_by_label("Your name (required to take part)").input_value() == "Ann Lee"
    page.get_by_label("Postal address for the prize (required to take part)").fill(
        "1 High Street\nLeeds"
    )
    page.get_by_label("Postcode (required to take part)").fill("not a postcode")
    button = f"Enter the contest, and let {sponsor.name} have my details if I win"
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()
    assert "Enter a UK postcode" in page.get_by_role("alert").first.inner_text()
    page.get_by_label("Postcode (required to take part)").fill("LS1 4AP")
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()
    assert "Thank you: your entry is in." in page.get_by_role("status").inner_text()

    entries = Entry.objects.filter(person=ann).order_by("pk")
    assert [(e.survey_id, e.postcode_district, e.age_band) for e in entries] == [
        (survey.pk, "LS1", "35-44"),
        (contest.pk, "", ""),
    ]
    assert entries[1].sponsor_statement.version == 1
    assert refused(page) == []
