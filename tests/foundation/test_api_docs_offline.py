"""/api/docs/ works with no internet: in Chromium, every request that is not to our own server is
refused, and Swagger UI still loads from our static files, lists the operations and breaks no
rule of the Content-Security-Policy.

The site is opened under a name that is not localhost (``docs.jessops.test``, routed by the
browser to the live server), as it is in production: Swagger UI skips some of its outside calls
(the online validator's badge) for a page on localhost, which would hide them here."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.browser]

SITE = "http://docs.jessops.test"

REPORT_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', (event) => console.error("
    "`Refused (CSP): ${event.violatedDirective} ${event.blockedURI}`));"
)


@pytest.fixture
def offline_tab(browser, live_server):
    """A tab that reaches our server under SITE and nothing else; ``tab.outside`` lists every
    request it refused, ``tab.problems`` every policy violation and script error."""
    context = browser.new_context(base_url=SITE)
    context.set_default_timeout(15_000)
    outside: list[str] = []

    def route(route) -> None:
        url = urlsplit(route.request.url)
        if f"{url.scheme}://{url.netloc}" != SITE:
            outside.append(route.request.url)
            route.abort("internetdisconnected")
            return
        local = live_server.url + url.path + (f"?{url.query}" if url.query else "")
        route.fulfill(response=route.fetch(url=local))

    context.route("**/*", route)
    tab = context.new_page()
    tab.add_init_script(REPORT_VIOLATIONS)
    problems: list[str] = []
    tab.on(
        "console",
        lambda message: problems.append(message.text) if "Refused" in message.text else None,
    )
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.outside, tab.problems = outside, problems
    yield tab
    context.close()


def test_the_api_docs_render_with_no_internet_and_nothing_refused(offline_tab):
    tab = offline_tab
    # when
    tab.goto("/api/docs/")
    # then the schema was fetched and rendered: the title and the campaign operations
    tab.locator(".swagger-ui .information-container .title").wait_for()
    tab.locator(".opblock").first.wait_for()
    assert "Privacy site API" in tab.locator(".swagger-ui .title").first.inner_text()
    paths = tab.locator(".opblock-summary-path").all_inner_texts()
    assert any(path.startswith("/api/v1/campaigns/") for path in paths)
    assert len(paths) >= 10
    # an operation opens and shows its documented answers
    tab.locator(".opblock-summary", has_text="Campaigns, newest first").first.click()
    tab.locator(".opblock.is-open .responses-table").first.wait_for()
    # and nothing tried to leave our server, and no rule of the policy was broken
    tab.wait_for_load_state("networkidle")
    assert tab.outside == []
    assert tab.problems == []
