"""Results for staff: counts per answer, free text without names, and demographic breakdowns
in which no group of fewer than 10 people is shown, nor one that subtraction would reveal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveys.selectors import HIDDEN, NOT_GIVEN, survey_results
from surveys.small_groups import MIN_GROUP, hide_small_groups
from tests.harness.http import logged_in, text
from tests.surveys.conftest import enter, make_survey

# --- The rule, for any figures (no database) ----------------------------------------------------

group_sizes = st.dictionaries(
    keys=st.text(alphabet="ABCDEFGHKLMNPRSTUWYZ0123456789", min_size=1, max_size=4),
    values=st.integers(min_value=0, max_value=40),
    max_size=12,
)


@given(group_sizes)
def test_no_group_under_ten_is_shown_and_none_can_be_worked_out_by_subtraction(sizes):
    breakdown = hide_small_groups(sizes)
    people = {group: count for group, count in sizes.items() if count}
    # every group shown has at least 10 people, and its true size
    assert all(count >= MIN_GROUP for count in breakdown.shown.values())
    assert all(people[group] == count for group, count in breakdown.shown.items())
    # the total is the true total, and the hidden figure is what the shown ones leave
    assert breakdown.total == sum(people.values())
    assert breakdown.hidden_total == breakdown.total - sum(breakdown.shown.values())
    # the only figure subtraction gives (total less the groups shown) is no small group:
    # nothing is hidden, or at least 10 people are hidden together, or nothing is shown at all
    # (then the hidden figure is the total of respondents, not a group)
    assert breakdown.hidden_total == 0 or breakdown.hidden_total >= MIN_GROUP or not breakdown.shown
    # and every hidden small group is among those hidden
    assert not any(
        0 < count < MIN_GROUP for group, count in people.items() if group in breakdown.shown
    )


@given(group_sizes)
def test_only_as_many_large_groups_are_hidden_as_the_rule_needs(sizes):
    breakdown = hide_small_groups(sizes)
    hidden_large = [
        count
        for group, count in sizes.items()
        if count >= MIN_GROUP and group not in breakdown.shown
    ]
    small_total = sum(count for count in sizes.values() if 0 < count < MIN_GROUP)
    if small_total == 0 or small_total >= MIN_GROUP:
        assert hidden_large == []  # the small groups alone already hide each other
    else:
        assert len(hidden_large) <= 1  # one large group is always enough


def test_one_small_group_is_hidden_with_the_smallest_other():
    breakdown = hide_small_groups({"LS1": 30, "LS2": 12, "M1": 25, "B1": 4})
    assert breakdown.shown == {"LS1": 30, "M1": 25}
    assert breakdown.hidden_total == 16


# --- The results page --------------------------------------------------------------------------


@pytest.mark.django_db
def test_results_count_each_answer_and_list_free_text_without_names(author, make_user):
    survey = make_survey(author)
    for n in range(3):
        enter(
            survey, make_user(f"easy{n}@example.com", first_name="Easy"), q1="Easy", q2=["Lenses"]
        )
    enter(
        survey, make_user("zed@example.com", first_name="Zed"), q1="Hard", q3="Zebra lenses please"
    )
    enter(
        survey,
        make_user("amy@example.com", first_name="Amy"),
        q2=["Lenses", "Prints"],
        q3="add tripods",
    )

    results = survey_results(survey=survey)

    assert results.entries == 5
    q1, q2, q3 = results.questions
    assert (q1.answered, q1.counts) == (4, [("Easy", 3), ("Hard", 1)])
    assert (q2.answered, q2.counts) == (4, [("Cameras", 0), ("Lenses", 4), ("Prints", 1)])
    assert q3.texts == ["add tripods", "Zebra lenses please"]  # sorted, not in the order sent
    page = text(logged_in(author).get(f"/admin/surveys/survey/{survey.pk}/results/"))
    assert "Zebra lenses please" in page and "add tripods" in page
    assert "zed@example.com" not in page and "Zed" not in page and "Amy" not in page


@pytest.mark.django_db
def test_small_age_bands_and_the_group_subtraction_would_reveal_are_hidden(author, make_user):
    # given 12 people aged 25-34, 11 aged 35-44, and 3 aged 65 or over
    survey = make_survey(author, ask_age_band=True)
    people = iter(make_user(f"p{n}@example.com") for n in range(26))
    for band, count in (("25-34", 12), ("35-44", 11), ("65+", 3)):
        for _ in range(count):
            enter(survey, next(people), age_band=band, q1="Easy")

    (by_age,) = survey_results(survey=survey).demographics

    # then 65+ is hidden, and so is 35-44, or the total less 25-34 would give 65+ away
    assert by_age.columns == [("25 to 34", 12), (HIDDEN, 14)]
    (checkout, _) = by_age.tables
    assert checkout.rows == [("Easy", [12, 14]), ("Hard", [0, 0])]
    page = text(logged_in(author).get(f"/admin/surveys/survey/{survey.pk}/results/"))
    assert "65 or over" not in page and "35 to 44" not in page
    assert '<th scope="row">25 to 34</th><td>12</td>' in page


@pytest.mark.django_db
def test_people_who_gave_no_district_are_a_group_like_any_other(author, make_user):
    survey = make_survey(author, ask_postcode_district=True)
    people = iter(make_user(f"p{n}@example.com") for n in range(25))
    for district, count in (("LS1", 10), ("", 10), ("M1", 5)):
        for _ in range(count):
            enter(survey, next(people), postcode_district=district)
    (by_district,) = survey_results(survey=survey).demographics
    # M1 (5) is hidden; with it alone, subtraction would give it away, so the smaller of the
    # other two goes too (a tie: the one first by name)
    assert by_district.breakdown.hidden_total >= 10
    assert ("M1", 5) not in by_district.columns
    assert sum(size for _, size in by_district.columns) == 25
    assert {label for label, _ in by_district.columns} <= {"LS1", NOT_GIVEN, HIDDEN}


@pytest.mark.django_db
def test_results_are_refused_to_staff_without_the_permission(author, make_user):
    from tests.factories import StaffFactory

    survey = make_survey(author)
    viewer = StaffFactory(email="val@jessops.example", permissions=["surveys.view_survey"])
    assert logged_in(viewer).get(f"/admin/surveys/survey/{survey.pk}/results/").status_code == 403
    customer = make_user("ann@example.com")
    response = logged_in(customer).get(f"/admin/surveys/survey/{survey.pk}/results/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
