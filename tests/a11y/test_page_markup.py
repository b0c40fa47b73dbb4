"""What the pages say in their markup: flash messages in a status region around a list, times
a browser and the validator can read, tables that take keyboard focus, the admin's sections
named apart, labelled date and time inputs, and the API docs page's language and heading."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from allauth.account.models import EmailAddress

from tests.a11y.pages import customer_pages
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]

# HTML's "valid global date and time string" as we write it: to the second, with an offset.
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def customer(make_user, email: str = "kim@example.com"):
    user = make_user(email, first_name="Kim")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def test_a_flash_message_is_a_list_inside_a_status_region(client, make_user):
    client.force_login(customer(make_user))

    response = client.post("/preferences/", {"newsletter": "on"}, follow=True)

    html = response.content.decode()
    region = re.search(r'<div class="messages" role="status">\s*<ul>\s*<li class="message', html)
    assert region, "the messages are <li> in a <ul> inside the role=status region"
    assert '<ul class="messages" role="status">' not in html
    assert "Newsletter: on" in html


def test_every_time_on_every_customer_page_is_to_the_second_with_its_offset():
    # given every page in every state, several of them showing times (cookies, preferences,
    # profile, export)
    documents = customer_pages()
    # when
    values = {
        (doc.name, attrs["datetime"])
        for doc in documents
        for attrs in Elements(doc.html).all("time")
    }
    # then
    pages_with_times = {name for name, _ in values}
    assert {
        "cookie preferences, after saving",
        "email preferences, after saving",
        "your details, after saving",
        "your data",
    } <= pages_with_times
    bad = [
        (name, value)
        for name, value in values
        if not (value and (DATETIME.match(value) or DATE.match(value)))
    ]
    assert bad == []


def test_every_table_of_the_export_scrolls_in_a_labelled_region_that_takes_focus(client, make_user):
    user = customer(make_user)
    client.force_login(user)
    client.post("/preferences/", {"newsletter": "on"})

    html = client.get("/accounts/export/").content.decode()

    tables = html.count("<table")
    assert tables >= 3
    regions = [
        attrs
        for attrs in Elements(html).all("div")
        if "table-scroll" in (attrs.get("class") or "").split()
    ]
    assert len(regions) == tables
    for region in regions:
        assert region.get("tabindex") == "0"
        assert region.get("role") == "region"
        assert region.get("aria-label")


def test_the_consent_history_reads_as_a_timeline_of_what_when_how_and_which_policy(
    client, make_user
):
    client.force_login(customer(make_user))
    client.post("/preferences/", {"newsletter": "on", "surveys": "on"})
    client.post("/preferences/", {"surveys": "on"})

    html = " ".join(client.get("/preferences/").content.decode().split())

    history = html.split('id="history"')[1]
    assert "<table" not in history
    assert '<ol class="timeline">' in history
    events = re.findall(r'<li class="timeline-event (timeline-\w+)">(.*?)</li>', history)
    assert [kind for kind, _ in events] == [
        "timeline-withdrawn",
        "timeline-granted",
        "timeline-granted",
    ]
    newest = events[0][1]
    assert "<strong>Newsletter</strong>:" in newest
    assert "turned off" in newest
    assert re.search(r'<time datetime="[^"]+">\d{1,2} \w+ \d{4}, \d{2}:\d{2}</time>', newest)
    assert "In your email preferences, under" in newest
    assert '<a href="/privacy/1/">privacy policy version 1</a>' in newest


def test_the_admin_index_names_our_accounts_apart_from_allauths(admin_client):
    html = admin_client.get("/admin/").content.decode()

    sections = re.findall(r'<caption>\s*<a [^>]*class="section"[^>]*>([^<]+)</a>', html)
    assert "Customer accounts" in sections
    assert "Sign-in email addresses" in sections
    assert "Accounts" not in sections
    assert len(sections) == len(set(sections)), "no two sections share a name"


def test_the_periodic_task_forms_date_and_time_inputs_have_labels(admin_client):
    html = admin_client.get("/admin/django_celery_beat/periodictask/add/").content.decode()

    labels = {attrs.get("for") for attrs in Elements(html).all("label")}
    assert {"id_start_time_0", "id_start_time_1"} <= labels


def test_the_api_docs_page_has_a_language_and_a_first_level_heading(client):
    html = client.get("/api/docs/").content.decode()

    elements = Elements(html)
    assert (elements.all("html")[0].get("lang") or "").startswith("en")
    assert re.search(r"<h1[^>]*>Privacy site API documentation</h1>", html)
    assert "<style" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_logging_in_again_after_a_password_change_is_unaffected(client, make_user):
    # The entrance pages' new markup still posts what allauth reads.
    customer(make_user)
    response = client.post(
        "/accounts/login/", {"login": "kim@example.com", "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
