"""axe-core finds nothing serious or critical on any customer page, in any of its states, nor
on the admin pages of our own models.

The pages come from the Django test client (tests/a11y/pages.py) and are shown in Chromium
as the server sent them, under a page of the live server so our stylesheets and scripts
apply: what the browser lays out and axe checks is exactly that page."""

from __future__ import annotations

import pytest

from tests.a11y.pages import Document, admin_pages, customer_pages
from tests.factories import with_second_factor
from tests.harness.axe import MarkupChecker, Violation, report

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_cache")]


def check(browser, live_server, documents: list[Document], *, width: int) -> list[Violation]:
    context = browser.new_unwatched_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(15_000)
    try:
        checker = MarkupChecker(context.new_page())
        violations = []
        for document in documents:
            url = live_server.url + document.url
            violations += checker.check(url=url, html=document.html, width=width)
        return violations
    finally:
        context.close()


def test_no_customer_page_has_a_serious_accessibility_violation(browser, live_server):
    documents = customer_pages()

    violations = check(browser, live_server, documents, width=1280)

    assert not violations, report(violations)


def test_no_admin_page_of_our_models_has_a_serious_accessibility_violation(
    browser, live_server, django_user_model
):
    superuser = with_second_factor(
        django_user_model.objects.create_superuser("root@jessops.example", "a long test password")
    )
    customer_pages()  # people, choices, emails and policy versions for the admin to show
    documents = admin_pages(superuser)
    assert len(documents) > 40

    violations = check(browser, live_server, documents, width=1280)

    assert not violations, report(violations)
