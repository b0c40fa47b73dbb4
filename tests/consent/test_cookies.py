"""Cookie choices over HTTP: the banner, Accept all / Reject all / by category, GPC, the
anonymous id cookie, safe redirects, bad input, the policy version, and the append-only log."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from consent.models import CookieConsent, PolicyVersion
from consent.provenance import Provenance
from consent.selectors import cookie_choice_for
from consent.services import (
    ConsentError,
    current_policy_version,
    record_cookie_choice,
)
from tests.factories import PolicyVersionFactory

pytestmark = pytest.mark.django_db

COOKIE = "cookie_consent_id"
BANNER = 'aria-label="Cookie choices"'
ChangeType = PolicyVersion.ChangeType


def choose(client: Client, choice: str, **fields) -> object:
    return client.post("/cookies/", {"choice": choice, **fields}, REMOTE_ADDR="203.0.113.77")


def only_row() -> CookieConsent:
    [row] = CookieConsent.objects.all()
    return row


def cookie_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "consent_cookieconsent" in q["sql"]]


# --- The banner ----------------------------------------------------------------------------------


def test_a_new_visitor_sees_the_banner_with_accept_and_reject_equally_prominent(client):
    # when
    html = client.get("/").content.decode()
    # then
    assert f'<section class="cookie-banner" {BANNER}>' in html
    banner = html.split(BANNER)[1].split("</section>")[0]
    assert re.search(r"<h2[^>]*>Cookies on Jessops</h2>", banner)
    accept = re.search(r'<button type="submit" name="choice" value="accept_all" ([^>]*)>', banner)
    reject = re.search(r'<button type="submit" name="choice" value="reject_all" ([^>]*)>', banner)
    assert accept and reject
    assert accept.group(1) == reject.group(1) == 'class="button"', "same style"
    # both plain POST forms to /cookies/ with CSRF and a way back to this page
    assert banner.count('<form method="post" action="/cookies/">') == 2
    assert banner.count('name="csrfmiddlewaretoken"') == 2
    assert banner.count('<input type="hidden" name="next" value="/">') == 2
    assert 'href="/cookies/"' in banner


def test_the_banner_shows_on_other_pages_and_returns_there(client):
    html = client.get("/privacy/history/?x=1").content.decode()
    assert BANNER in html
    assert '<input type="hidden" name="next" value="/privacy/history/?x=1">' in html


def test_without_the_id_cookie_the_banner_costs_no_query(client):
    with CaptureQueriesContext(connection) as captured:
        html = client.get("/").content.decode()
    assert BANNER in html
    assert cookie_queries(captured) == []


def test_with_the_id_cookie_the_banner_costs_one_query(client):
    choose(client, "reject_all")
    with CaptureQueriesContext(connection) as captured:
        client.get("/")
    assert len(cookie_queries(captured)) == 1


def test_the_banner_is_gone_once_the_visitor_has_answered(client):
    # given
    assert BANNER in client.get("/").content.decode()
    # when
    response = choose(client, "reject_all", next="/")
    # then
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert BANNER not in html
    assert "Your cookie choices are saved." in html


# --- Recording the choice ------------------------------------------------------------------------


def test_accept_all_records_both_categories_with_a_truncated_ip_and_the_current_policy(client):
    # when
    response = choose(client, "accept_all", next="/privacy/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/privacy/"
    row = only_row()
    assert (row.analytics, row.marketing, row.gpc_honoured) == (True, True, False)
    assert row.ip_address == "203.0.113.0"
    assert row.policy_version == current_policy_version()
    assert row.user is None
    assert str(row.anonymous_id) == response.cookies[COOKIE].value


def test_reject_all_records_both_categories_off(client):
    choose(client, "reject_all")
    row = only_row()
    assert (row.analytics, row.marketing) == (False, False)
    assert row.ip_address == "203.0.113.0"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"analytics": "on"}, (True, False)),
        ({"marketing": "on"}, (False, True)),
        ({"analytics": "on", "marketing": "on"}, (True, True)),
        ({}, (False, False)),
    ],
)
def test_saving_by_category_records_exactly_the_boxes_ticked(client, fields, expected):
    response = choose(client, "save", **fields)
    assert response.status_code == 302
    assert response["Location"] == "/cookies/"
    row = only_row()
    assert (row.analytics, row.marketing) == expected
    assert row.ip_address == "203.0.113.0"


def test_the_id_cookie_is_a_uuid_httponly_lax_for_a_year(client):
    response = choose(client, "reject_all")
    morsel = response.cookies[COOKIE]
    uuid.UUID(morsel.value)
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["max-age"] == 365 * 24 * 3600
    assert not morsel["secure"]


def test_the_id_cookie_is_secure_over_https(client):
    response = client.post("/cookies/", {"choice": "reject_all"}, secure=True)
    assert response.cookies[COOKIE]["secure"] is True


def test_every_choice_is_a_new_row_and_the_latest_is_in_force(client):
    # given
    choose(client, "accept_all")
    # when
    choose(client, "reject_all")
    # then
    rows = list(CookieConsent.objects.order_by("id"))
    assert len(rows) == 2
    assert rows[0].anonymous_id == rows[1].anonymous_id, "the same browser keeps its id"
    assert (rows[0].marketing, rows[1].marketing) == (True, False)
    assert cookie_choice_for(anonymous_id=rows[0].anonymous_id) == rows[1]


def test_a_logged_in_users_choice_is_linked_to_the_user(client):
    # given
    user = get_user_model().objects.create_user(email="ann@example.com", password="x-long-pass")
    client.force_login(user)
    # when
    choose(client, "accept_all")
    # then
    assert only_row().user == user


def test_an_anonymous_choice_is_linked_to_no_user(client):
    choose(client, "accept_all")
    assert only_row().user is None


# --- Global Privacy Control ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "fields"),
    [("accept_all", {}), ("save", {"analytics": "on", "marketing": "on"})],
)
def test_the_gpc_signal_turns_marketing_off_whatever_the_form_says(client, choice, fields):
    # when
    response = client.post("/cookies/", {"choice": choice, **fields}, HTTP_SEC_GPC="1")
    # then
    row = only_row()
    assert row.marketing is False
    assert row.gpc_honoured is True
    assert row.analytics is True
    assert (
        "Global Privacy Control signal was honoured"
        in client.get(response["Location"]).content.decode()
    )


def test_without_the_gpc_signal_nothing_is_recorded_as_honoured(client):
    choose(client, "accept_all")
    assert only_row().gpc_honoured is False


def test_the_cookies_page_tells_a_gpc_browser_its_signal_is_honoured(client):
    html = client.get("/cookies/", HTTP_SEC_GPC="1").content.decode()
    assert "Your browser sends a Global Privacy Control signal. We honour it" in html
    assert re.search(r'id="cookie-marketing"[^>]* disabled', html)


def test_the_cookies_page_remembers_that_the_gpc_signal_was_honoured(client):
    client.post("/cookies/", {"choice": "accept_all"}, HTTP_SEC_GPC="1")
    html = client.get("/cookies/").content.decode()
    assert "Global Privacy Control signal was honoured" in html
    assert "Marketing cookies: off" in html


# --- The /cookies/ page --------------------------------------------------------------------------


def test_the_cookies_page_explains_the_categories_with_labelled_boxes(client):
    html = client.get("/cookies/").content.decode()
    assert "You have not made a choice on this browser yet." in html
    assert 'for="cookie-necessary">Necessary cookies (always on)</label>' in html
    assert re.search(r'id="cookie-necessary" checked disabled', html)
    for name in ("analytics", "marketing"):
        assert f'<label for="cookie-{name}">' in html
        assert re.search(rf'id="cookie-{name}" name="{name}" value="on" aria', html), "unticked"
    assert 'name="choice" value="save"' in html
    assert 'value="accept_all"' in html and 'value="reject_all"' in html


def test_the_cookies_page_offers_accept_and_reject_itself_instead_of_the_banner(client):
    html = client.get("/cookies/").content.decode()
    assert BANNER not in html
    assert html.count('<input type="hidden" name="next" value="/cookies/">') == 2


def test_the_cookies_page_shows_the_current_choice(client):
    # given
    choose(client, "save", analytics="on")
    # when
    html = client.get("/cookies/").content.decode()
    # then
    assert "Analytics cookies: on" in html
    assert "Marketing cookies: off" in html
    assert re.search(r'id="cookie-analytics" name="analytics" value="on" checked', html)
    assert re.search(r'id="cookie-marketing" name="marketing" value="on" aria', html)
    assert 'href="/privacy/1/">privacy policy version 1</a>' in html


# --- Redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example/path",
        "http://evil.example/",
        "https:///evil.example",
        "javascript:alert(1)",
        "/\\evil.example",
    ],
)
def test_next_never_leaves_the_site(client, target):
    response = choose(client, "reject_all", next=target)
    assert response.status_code == 302
    assert response["Location"] == "/cookies/"
    assert CookieConsent.objects.count() == 1, "the choice itself is still recorded"


def test_next_on_this_site_is_followed(client):
    response = choose(client, "reject_all", next="/privacy/history/?page=2")
    assert response["Location"] == "/privacy/history/?page=2"


# --- Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["not-a-uuid", "", "1234", "'; DROP TABLE x; --"])
def test_an_invalid_id_cookie_shows_the_banner_and_is_replaced_by_a_fresh_id(client, value):
    # given
    client.cookies[COOKIE] = value
    # when
    page = client.get("/")
    response = choose(client, "reject_all")
    # then
    assert page.status_code == 200
    assert BANNER in page.content.decode()
    assert response.status_code == 302
    fresh = uuid.UUID(response.cookies[COOKIE].value)
    assert only_row().anonymous_id == fresh
    assert BANNER not in client.get("/").content.decode()


def test_a_valid_id_cookie_is_kept(client):
    known = uuid.uuid4()
    client.cookies[COOKIE] = str(known)
    choose(client, "reject_all")
    assert only_row().anonymous_id == known


@pytest.mark.parametrize(
    "data",
    [
        {"choice": "accept_everything"},
        {},
        {"choice": "save", "analytics": "yes"},
        {"choice": "save", "marketing": "true"},
        {"choice": ["accept_all", "reject_all"], "analytics": "1"},
    ],
)
def test_unknown_post_values_give_a_clear_error_and_write_nothing(client, data):
    # when
    response = client.post("/cookies/", data)
    # then
    assert response.status_code == 400
    assert "Your choice was not saved." in response.content.decode()
    assert CookieConsent.objects.count() == 0
    assert COOKIE not in response.cookies


def test_a_post_without_the_csrf_token_is_refused():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/cookies/", {"choice": "accept_all"})
    assert response.status_code == 403
    assert CookieConsent.objects.count() == 0


def test_the_banner_forms_carry_a_working_csrf_token():
    # given a browser-like client that enforces CSRF
    client = Client(enforce_csrf_checks=True)
    html = client.get("/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    # when
    response = client.post("/cookies/", {"csrfmiddlewaretoken": token, "choice": "reject_all"})
    # then
    assert response.status_code == 302
    assert CookieConsent.objects.count() == 1


def test_the_cookies_page_refuses_other_methods(client):
    assert client.put("/cookies/").status_code == 405


# --- Tied to the policy version ------------------------------------------------------------------


def test_an_editorial_policy_change_does_not_ask_again(client):
    # given
    choose(client, "reject_all")
    # when
    PolicyVersionFactory(change_type=ChangeType.EDITORIAL)
    # then
    assert BANNER not in client.get("/").content.decode()


@pytest.mark.parametrize("change_type", [ChangeType.PRACTICE_CHANGE, ChangeType.USE_CHANGE])
def test_a_material_policy_change_asks_again(client, change_type):
    # given
    choose(client, "reject_all")
    # when
    PolicyVersionFactory(change_type=change_type)
    # then
    html = client.get("/").content.decode()
    assert BANNER in html
    assert "has changed since you made your cookie choice" in html
    # and answering under the new version hides it again
    choose(client, "reject_all")
    assert BANNER not in client.get("/").content.decode()
    assert only_row_version(client) == 2


def only_row_version(client: Client) -> int:
    return CookieConsent.objects.order_by("-id").first().policy_version.number


def test_a_material_change_hidden_behind_a_later_editorial_one_still_asks_again(client):
    choose(client, "reject_all")
    PolicyVersionFactory(change_type=ChangeType.PRACTICE_CHANGE)
    PolicyVersionFactory(change_type=ChangeType.EDITORIAL)
    assert BANNER in client.get("/").content.decode()


# --- The services --------------------------------------------------------------------------------


def test_record_cookie_choice_forces_marketing_off_under_gpc():
    row = record_cookie_choice(
        anonymous_id=uuid.uuid4(),
        user=None,
        analytics=False,
        marketing=True,
        gpc=True,
        provenance=Provenance(ip_address="198.51.100.0", user_agent="UA"),
    )
    assert (row.marketing, row.gpc_honoured) == (False, True)
    assert (row.ip_address, row.user_agent) == ("198.51.100.0", "UA")


@pytest.mark.parametrize(
    "overrides",
    [{"anonymous_id": "nope"}, {"analytics": "on"}, {"marketing": 1}, {"gpc": None}],
)
def test_record_cookie_choice_refuses_bad_arguments_and_writes_nothing(overrides):
    arguments = {
        "anonymous_id": uuid.uuid4(),
        "user": None,
        "analytics": True,
        "marketing": False,
        "gpc": False,
    }
    with pytest.raises(ConsentError):
        record_cookie_choice(**(arguments | overrides))
    assert CookieConsent.objects.count() == 0


def test_cookie_choice_for_an_unknown_browser_is_none():
    assert cookie_choice_for(anonymous_id=uuid.uuid4()) is None


# --- Append-only, at the database ----------------------------------------------------------------


@pytest.mark.usefixtures("transactional_db")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_cookieconsent SET marketing = TRUE WHERE id = %s",
        "DELETE FROM consent_cookieconsent WHERE id = %s",
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_delete_a_cookie_choice(statement):
    # given
    assert connection.vendor == "postgresql"
    row = record_cookie_choice(
        anonymous_id=uuid.uuid4(), user=None, analytics=False, marketing=False, gpc=False
    )
    # when / then
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute(statement, [row.pk])
    row.refresh_from_db()
    assert row.marketing is False
