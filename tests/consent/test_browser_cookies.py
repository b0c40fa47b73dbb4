"""The cookie banner in a real browser: it works without JavaScript and fits a phone."""

from __future__ import annotations

import pytest

from consent.models import CookieConsent

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def banner(page):
    return page.get_by_role("region", name="Cookie choices")


def test_reject_all_hides_the_banner_and_records_everything_off(page, live_server):
    # given
    page.goto("/")
    assert banner(page).is_visible()
    assert banner(page).get_by_role("heading", name="Cookies on Jessops").is_visible()
    # when
    with page.expect_navigation():
        banner(page).get_by_role("button", name="Reject all").click()
    # then
    assert page.url == f"{live_server.url}/"
    assert banner(page).count() == 0
    row = CookieConsent.objects.get()
    assert (row.analytics, row.marketing) == (False, False)
    # and it stays answered
    page.reload()
    assert banner(page).count() == 0
    assert page.get_by_text("Your cookie choices are saved.").count() == 0


def test_the_banner_works_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto("/privacy/")
        with tab.expect_navigation():
            banner(tab).get_by_role("button", name="Accept all").click()
        assert tab.url == f"{live_server.url}/privacy/"
        assert banner(tab).count() == 0
        row = CookieConsent.objects.get()
        assert (row.analytics, row.marketing) == (True, True)
    finally:
        context.close()


def _boxes(page):
    accept = banner(page).get_by_role("button", name="Accept all").bounding_box()
    reject = banner(page).get_by_role("button", name="Reject all").bounding_box()
    assert accept and reject
    return accept, reject


def test_on_a_phone_both_banner_buttons_sit_side_by_side_at_the_same_size(page):
    # given a 375px-wide screen
    page.set_viewport_size({"width": 375, "height": 667})
    page.goto("/")
    # when
    accept, reject = _boxes(page)
    # then
    assert abs(accept["width"] - reject["width"]) <= 1
    assert abs(accept["height"] - reject["height"]) <= 1
    assert abs(accept["y"] - reject["y"]) <= 1, "side by side"
    together = reject["x"] + reject["width"] - accept["x"]
    assert together >= 375 - 2 * 16 - 1, "the full width inside the page margins"
    assert accept["height"] >= 44, "a comfortable touch target"
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 375


def test_on_a_wide_screen_the_banner_buttons_sit_side_by_side_at_the_same_size(page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/")
    accept, reject = _boxes(page)
    assert abs(accept["width"] - reject["width"]) <= 1
    assert abs(accept["height"] - reject["height"]) <= 1
    assert abs(accept["y"] - reject["y"]) <= 1, "side by side"
    assert reject["x"] > accept["x"]


def test_the_banner_buttons_show_focus_from_the_keyboard(page):
    page.goto("/")
    button = banner(page).get_by_role("button", name="Reject all")
    button.focus()
    outline = button.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"
