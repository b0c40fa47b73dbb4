"""A strict Content-Security-Policy on every page (no inline script or style anywhere), and the
admin and the API docs still work under it in a real browser."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import TEST_PASSWORD
from tests.harness.browser import log_in_to_admin

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}


def directives(response) -> set[str]:
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


@pytest.mark.parametrize(
    "url", ["/", "/privacy/", "/accounts/login/", "/api/docs/", "/api/schema/"]
)
def test_every_page_carries_the_strict_policy(url):
    response = Client().get(url)
    assert response.status_code == 200
    assert directives(response) == POLICY


def test_the_api_docs_page_has_no_inline_script_or_style():
    html = Client().get("/api/docs/").content.decode()
    assert "<style" not in html
    assert "<script>" not in html
    assert '<script src="/api/docs/?script=' in html


# --- In Chromium: nothing refused, and the pages still do their job ------------------------------


@pytest.fixture
def watched_page(page):
    """The browser tab, with every console message, script error and policy violation kept.

    Chromium's own "Refused to ..." reports don't reach Playwright's console events, so each
    document reports its violations itself (an init script runs before any of the page's)."""
    messages: list[str] = []
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (event) => console.error("
        "`Refused to load (CSP): ${event.violatedDirective} ${event.blockedURI}"
        " ${event.sourceFile}:${event.lineNumber}`));"
    )
    page.on("console", lambda message: messages.append(message.text))
    page.on("pageerror", lambda error: messages.append(f"page error: {error}"))
    page.messages = messages
    return page


def refused(page) -> list[str]:
    return [text for text in page.messages if "Refused to" in text or "page error" in text]


@pytest.mark.browser
def test_the_api_docs_render_under_the_policy(watched_page):
    page = watched_page
    # when
    page.goto("/api/docs/")
    # then Swagger UI has loaded the schema and listed the operations
    page.locator(".swagger-ui .information-container .title").wait_for()
    page.locator(".opblock").first.wait_for()
    assert "Privacy site API" in page.locator(".swagger-ui .title").first.inner_text()
    assert refused(page) == []


def admin_list_and_add_pages(superuser) -> list[str]:
    """The change list and add page of every model in the admin (add only where allowed)."""
    from django.contrib import admin
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = superuser
    urls = []
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls.append(base)
        if model_admin.has_add_permission(request):
            urls.append(f"{base}add/")
    return urls


@pytest.mark.browser
def test_the_admin_works_under_the_policy(watched_page, superuser):
    page = watched_page
    # when staff log in and open every list and add page, and use an action
    log_in_to_admin(page, superuser, TEST_PASSWORD)
    for url in ["/admin/", *admin_list_and_add_pages(superuser)]:
        response = page.goto(url)
        assert response.status == 200, url
    # django-celery-beat's crontab help (its script now a static file) still appears
    page.goto("/admin/django_celery_beat/periodictask/add/")
    assert page.locator(".field-crontab_translation").count() == 1
    assert not page.locator(".field-crontab_translation").is_visible()
    # the admin's own scripts run: the select-all checkbox of the change list ticks every row
    page.goto("/admin/accounts/user/")
    page.check("#action-toggle")
    assert page.locator("input.action-select:checked").count() >= 1
    # then
    assert refused(page) == []


@pytest.mark.browser
def test_the_customer_pages_show_nothing_refused(watched_page, make_user):
    page = watched_page
    make_user("ann@example.com", first_name="Ann")
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill("ann@example.com")
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    for url in ["/", "/preferences/", "/accounts/profile/", "/cookies/", "/newsletter/"]:
        page.goto(url)
    assert refused(page) == []
