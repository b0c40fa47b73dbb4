"""The accessibility watch on browser tests finds what it should: a page a test loads and
leaves at once is still checked, and a violation is reported with the page it is on."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SITE = "http://watch.jessops.test"
UNLABELLED = (
    "<!doctype html><html lang='en'><title>Form</title><main><h1>Form</h1>"
    "<input type='text' name='postcode'></main></html>"
)
LABELLED = (
    "<!doctype html><html lang='en'><title>Form</title><main><h1>Form</h1>"
    "<label for='p'>Postcode</label><input id='p' type='text' name='postcode'></main></html>"
)

NOT_FOUND = "<!doctype html><html lang='en'><title>Not found</title><h1>Not found</h1></html>"


def serve(pages: dict[str, str]):
    def handler(route) -> None:
        path = route.request.url.removeprefix(SITE)
        if path in pages:
            route.fulfill(body=pages[path], content_type="text/html")
        else:
            route.fulfill(status=404, body=NOT_FOUND, content_type="text/html")

    return handler


def test_a_page_left_at_once_is_checked_and_its_violation_reported(browser, axe_watch):
    # given a watched tab that loads a page with an unlabelled field, then another at once
    context = browser.new_context(base_url=SITE)
    context.route("**/*", serve({"/bad/": UNLABELLED, "/good/": LABELLED}))
    tab = context.new_page()
    tab.goto("/bad/")
    tab.goto("/good/")
    # when the context closes
    context.close()
    # then the first page's violation was found, and only that one
    found = axe_watch.take_violations()
    assert [(v.url, v.rule, v.impact) for v in found] == [(f"{SITE}/bad/", "label", "critical")]
    assert axe_watch.checked == 2


def test_a_context_left_open_is_checked_when_the_test_ends(browser, axe_watch):
    context = browser.new_context(base_url=SITE)
    context.route("**/*", serve({"/bad/": UNLABELLED.replace("Form", "Open")}))
    context.new_page().goto("/bad/")

    axe_watch.finish()

    assert [v.rule for v in axe_watch.take_violations()] == ["label"]
    context.close()
