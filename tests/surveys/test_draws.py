"""Drawing a contest's winners: once, after closing, reproducible from the recorded seed and
entry list, the winners' contact details logged as disclosed to the sponsor through the
sharing service, each winner's email written to the outbox; the sponsor's copy of the
details downloaded only by staff allowed to, and recorded."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.utils import InternalError, ProgrammingError

from communications.models import Delivery
from sharing.models import Disclosure, ThirdParty
from staff_access.models import StaffAccess
from surveys.models import Draw, Entry, SurveyEvent
from surveys.services import SurveyError, draw_winners, verify_draw
from surveys.services.draws import pick_winners
from tests.factories import StaffFactory
from tests.harness.http import logged_in
from tests.surveys.conftest import close_now, enter, make_contest

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_contest(author, sponsor, make_user):
    contest = make_contest(author, sponsor, winners_wanted=2)
    for n in range(6):
        enter(contest, make_user(f"p{n}@example.com", first_name=f"P{n}"), q1="Easy")
    return close_now(contest, author)


def test_the_draw_can_be_run_again_by_anyone_from_what_it_recorded(closed_contest, author):
    draw = draw_winners(survey=closed_contest, actor=author)

    ids = sorted(closed_contest.entries.values_list("pk", flat=True))
    assert draw.entry_ids == ids
    # the hash is SHA-256 of the entry numbers, ascending, one per line
    assert draw.entries_hash == hashlib.sha256("\n".join(map(str, ids)).encode()).hexdigest()
    # the winners are the entries with the lowest SHA-256 of "<seed>:<number>"
    by_rank = sorted(ids, key=lambda n: hashlib.sha256(f"{draw.seed}:{n}".encode()).hexdigest())
    assert draw.winner_ids == by_rank[:2]
    assert verify_draw(draw)
    output = io.StringIO()
    call_command("verify_draw", str(closed_contest.pk), stdout=output)
    assert "The same winners as recorded." in output.getvalue()


def test_the_same_seed_and_entries_give_the_same_winners_in_any_order():
    seed = "ab" * 32
    entries = list(range(1, 200))
    first = pick_winners(seed=seed, entry_ids=entries, count=5)
    assert pick_winners(seed=seed, entry_ids=list(reversed(entries)), count=5) == first
    assert pick_winners(seed="cd" * 32, entry_ids=entries, count=5) != first


def test_the_winners_details_are_disclosed_to_the_sponsor_and_the_winners_emailed(
    closed_contest, author, sponsor
):
    draw = draw_winners(survey=closed_contest, actor=author)

    winners = list(closed_contest.entries.filter(pk__in=draw.winner_ids))
    disclosures = Disclosure.objects.filter(party=sponsor)
    assert {d.person_id for d in disclosures} == {entry.person_id for entry in winners}
    for disclosure in disclosures:
        assert disclosure.categories == ["name", "postal_address", "email"]
        assert (disclosure.purpose, disclosure.legal_basis) == ("prize_award", "contract")
        assert disclosure.reference == f"Contest {closed_contest.pk}: Win a camera"
        assert disclosure.actor == author
    emails = Delivery.objects.filter(kind="contest_winner")
    assert {e.user_id for e in emails} == {entry.person_id for entry in winners}
    assert all(e.status == Delivery.Status.QUEUED for e in emails)
    assert emails.first().context == {
        "contest_name": "Win a camera",
        "prize": "a Nikon Z50",
        "sponsor_name": sponsor.name,
    }
    closed_contest.refresh_from_db()
    assert closed_contest.status == "closed"
    assert SurveyEvent.objects.filter(survey=closed_contest, action="drawn", actor=author).exists()


def test_a_contest_is_drawn_once_and_only_after_it_closes(author, sponsor, make_user):
    contest = make_contest(author, sponsor)
    enter(contest, make_user("ann@example.com"))
    with pytest.raises(SurveyError, match="still open"):
        draw_winners(survey=contest, actor=author)
    close_now(contest, author)
    draw_winners(survey=contest, actor=author)
    with pytest.raises(SurveyError, match="drawn already"):
        draw_winners(survey=contest, actor=author)
    assert Draw.objects.count() == 1


def test_closed_accounts_and_late_entries_cannot_win(author, sponsor, make_user):
    contest = make_contest(author, sponsor, winners_wanted=5)
    gone = make_user("gone@example.com")
    enter(contest, gone)
    enter(contest, make_user("ann@example.com"))
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    close_now(contest, author)
    draw = draw_winners(survey=contest, actor=author)
    assert len(draw.entry_ids) == 1
    assert Disclosure.objects.get().person.email == "ann@example.com"


def test_a_draw_the_register_refuses_writes_nothing(closed_contest, author, sponsor):
    # given the sponsor's registration ended before the draw
    ThirdParty.objects.filter(pk=sponsor.pk).update(purposes=["delivery"])
    with pytest.raises(SurveyError, match="purpose_not_registered"):
        draw_winners(survey=closed_contest, actor=author)
    assert not Draw.objects.exists() and not Disclosure.objects.exists()
    assert not Delivery.objects.filter(kind="contest_winner").exists()


def test_staff_without_the_draw_permission_are_refused(closed_contest, author):
    viewer = StaffFactory(
        email="val@jessops.example", permissions=["surveys.view_survey", "surveys.change_survey"]
    )
    with pytest.raises(SurveyError, match="allowed to draw"):
        draw_winners(survey=closed_contest, actor=viewer)
    response = logged_in(viewer).post(
        f"/admin/surveys/survey/{closed_contest.pk}/draw/", follow=True
    )
    assert "allowed to draw" in response.content.decode()
    assert not Draw.objects.exists()


def test_the_draw_from_the_admin_and_the_sponsors_copy_of_the_winners_details(
    closed_contest, author
):
    staff = logged_in(author)
    page = staff.get(f"/admin/surveys/survey/{closed_contest.pk}/change/").content.decode()
    assert "Draw the winners" in page
    staff.post(f"/admin/surveys/survey/{closed_contest.pk}/draw/")
    draw = Draw.objects.get()
    page = staff.get(f"/admin/surveys/survey/{closed_contest.pk}/change/").content.decode()
    assert draw.seed in page and draw.entries_hash in page and "the same winners" in page

    response = staff.get(f"/admin/surveys/survey/{closed_contest.pk}/winners.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["entry", "name", "email", "postal_address", "postcode"]
    assert [int(row[0]) for row in rows[1:]] == draw.winner_ids
    assert rows[1][3] == "1 High Street\nLeeds" and rows[1][4] == "LS1 4AP"
    assert SurveyEvent.objects.filter(action="contacts_downloaded", actor=author).count() == 1
    # Handing the winners' details over is an export of their data: on the staff access record.
    access = StaffAccess.objects.get(page="admin:surveys_survey_contacts")
    winners = set(Entry.objects.filter(pk__in=draw.winner_ids).values_list("person", flat=True))
    assert (access.staff, access.action, set(access.subject_ids)) == (author, "export", winners)
    assert "email" in access.fields


def test_the_winners_details_are_refused_to_staff_without_that_permission(closed_contest, author):
    draw_winners(survey=closed_contest, actor=author)
    marketer = StaffFactory(
        email="mo@jessops.example", permissions=["surveys.view_survey", "surveys.draw_winners"]
    )
    response = logged_in(marketer).get(
        f"/admin/surveys/survey/{closed_contest.pk}/winners.csv", follow=True
    )
    assert "allowed to see winners" in response.content.decode()
    assert not SurveyEvent.objects.filter(action="contacts_downloaded").exists()


def test_the_draw_record_is_append_only(closed_contest, author):
    draw_winners(survey=closed_contest, actor=author)
    with pytest.raises((InternalError, ProgrammingError)), connection.cursor() as cursor:
        cursor.execute("UPDATE surveys_draw SET seed = 'chosen'")
