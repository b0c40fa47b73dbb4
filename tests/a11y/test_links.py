"""Every link on the site leads somewhere: following every same-site link from the home page,
logged out and logged in, meets no 404 and no server error."""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from consent.models import Purpose
from consent.services import ConsentSource, grant_consent
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]

MOST_PAGES = 400


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def crawl(client: Client) -> dict[str, tuple[int, str]]:
    """Every same-site page reachable by links from ``/``: {path: (status, found on)}."""
    seen: dict[str, tuple[int, str]] = {}
    queue: deque[tuple[str, str]] = deque([("/", "(start)")])
    while queue and len(seen) < MOST_PAGES:
        path, found_on = queue.popleft()
        if path in seen:
            continue
        response = client.get(path, follow=True)
        seen[path] = (response.status_code, found_on)
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        parser = Links()
        parser.feed(response.content.decode())
        for href in parser.hrefs:
            url = urlsplit(urljoin(f"http://testserver{path}", href))
            if url.scheme not in {"http", "https"} or url.netloc != "testserver":
                continue  # another site, mailto:, ...
            target = url.path + (f"?{url.query}" if url.query else "")
            if target not in seen:
                queue.append((target, path))
    assert len(seen) < MOST_PAGES, "the crawl stopped at its limit"
    return seen


def broken(pages: dict[str, tuple[int, str]]) -> list[str]:
    return [
        f"{path} answered {status} (linked from {found_on})"
        for path, (status, found_on) in pages.items()
        if status == 404 or status >= 500
    ]


def test_no_link_a_visitor_can_follow_is_broken():
    pages = crawl(Client())

    assert broken(pages) == []
    assert {"/", "/privacy/", "/cookies/", "/newsletter/", "/accounts/signup/"} <= set(pages)


def test_no_link_a_logged_in_customer_can_follow_is_broken(make_user):
    ann = make_user("ann@example.com", first_name="Ann")
    EmailAddress.objects.create(user=ann, email=ann.email, verified=True, primary=True)
    grant_consent(subject=ann, purpose=Purpose.NEWSLETTER, source=ConsentSource.SIGNUP_FORM)
    client = Client()
    logged_in = client.post("/accounts/login/", {"login": ann.email, "password": TEST_PASSWORD})
    assert logged_in.status_code == 302

    pages = crawl(client)

    assert broken(pages) == []
    assert {"/preferences/", "/accounts/profile/", "/accounts/export/"} <= set(pages)
