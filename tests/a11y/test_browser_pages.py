"""The pages in Chromium: the account pages look like the rest of the site, keyboard focus
shows at 3:1 or more on every background, the export's tables scroll from the keyboard and fit
a phone, and the cookie banner is compact on a phone and covers nothing."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.contrib.auth import get_user_model

from consent.models import Purpose
from consent.services import ConsentSource, grant_consent
from tests.factories import TEST_PASSWORD
from tests.harness.browser import answer_cookies, log_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_cache")]

PHONE = {"width": 375, "height": 667}
BUTTON_LOOK = """(el) => {
  const s = getComputedStyle(el);
  return {background: s.backgroundColor, color: s.color, weight: s.fontWeight,
          radius: s.borderRadius, padding: s.paddingTop, height: el.getBoundingClientRect().height};
}"""
# The contrast of a focused element's rings (outline, box-shadow) against the background
# around it: the best ring, and what it was measured against.
FOCUS_CONTRAST = """(el) => {
  const rgb = (c) => { const m = /rgba?\\(([^)]+)\\)/.exec(c || '');
    if (!m) return null; const p = m[1].split(',').map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = (c) => { const f = (v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05); };
  let node = el.parentElement, around = null;
  while (node && !around) { const c = rgb(getComputedStyle(node).backgroundColor);
    if (c && c.a > 0.5) around = c; node = node.parentElement; }
  around = around || {r: 255, g: 255, b: 255, a: 1};
  const s = getComputedStyle(el), rings = [];
  if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) rings.push(rgb(s.outlineColor));
  (s.boxShadow.match(/rgba?\\([^)]+\\)/g) || []).forEach((c) => rings.push(rgb(c)));
  return {best: Math.max(0, ...rings.filter(Boolean).map((c) => ratio(c, around))),
          around: `rgb(${around.r}, ${around.g}, ${around.b})`, rings: rings.length};
}"""


def verified(email: str, **fields):
    user = get_user_model().objects.create_user(email, TEST_PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def test_every_account_page_has_the_sites_buttons_and_checkboxes(browser, live_server):
    # given the site's button, as on the newsletter form
    site = browser.new_context(base_url=live_server.url)
    tab = site.new_page()
    tab.goto("/newsletter/")
    look = tab.get_by_role("button", name="Sign me up").evaluate(BUTTON_LOOK)
    assert look["height"] >= 44

    unconfirmed = get_user_model().objects.create_user("una@example.com", TEST_PASSWORD)
    address = EmailAddress.objects.create(user=unconfirmed, email=unconfirmed.email)
    visitor_pages = {
        "/accounts/signup/": "Sign up",
        "/accounts/login/": "Log in",
        "/accounts/password/reset/": "Send the link",
        f"/accounts/confirm-email/{EmailConfirmationHMAC(address).key}/": "Confirm",
    }
    for path, button in visitor_pages.items():
        tab.goto(path)
        assert tab.get_by_role("button", name=button, exact=True).evaluate(BUTTON_LOOK) == look, (
            path
        )

    # the checkboxes sit to the left of their labels, on the same line, the labels in plain type
    for path, label in {
        "/accounts/login/": "Remember Me",
        "/accounts/signup/": Purpose.objects.get(code=Purpose.NEWSLETTER).wording,
    }.items():
        tab.goto(path)
        box = tab.get_by_role("checkbox", name=label).bounding_box()
        text = tab.locator("label", has_text=label).first
        words = text.bounding_box()
        assert words["x"] >= box["x"] + box["width"], f"{path}: label right of its box"
        assert words["y"] < box["y"] + box["height"] and box["y"] < words["y"] + words["height"]
        assert int(text.evaluate("(el) => getComputedStyle(el).fontWeight")) < 600, path
    site.close()

    # and the pages of someone logged in
    member = browser.new_context(base_url=live_server.url)
    log_in(member, verified("mo@example.com"), live_server.url)
    tab = member.new_page()
    for path, button in {
        "/accounts/password/change/": "Change the password",
        "/accounts/logout/": "Log out",
    }.items():
        tab.goto(path)
        main = tab.get_by_role("main")
        assert main.get_by_role("button", name=button).evaluate(BUTTON_LOOK) == look, path
    member.close()

    subscriber = browser.new_context(base_url=live_server.url)
    newcomer = get_user_model().objects.create_user("sol@example.com")
    EmailAddress.objects.create(user=newcomer, email=newcomer.email, verified=True, primary=True)
    log_in(subscriber, newcomer, live_server.url)
    tab = subscriber.new_page()
    tab.goto("/accounts/password/set/")
    assert tab.get_by_role("button", name="Save the password").evaluate(BUTTON_LOOK) == look
    subscriber.close()


def test_keyboard_focus_shows_at_three_to_one_or_more_on_every_background(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    tab = context.new_page()
    tab.goto("/newsletter/")
    targets = {
        "header link": tab.get_by_role("banner").get_by_role("link", name="Log in"),
        "cookie banner button": tab.get_by_role("button", name="Reject all"),
        "cookie banner link": tab.get_by_role("link", name="Choose by category"),
        "link in the text": tab.get_by_role("main").get_by_role("link", name="privacy policy"),
        "text field": tab.get_by_label("Email"),
        "button": tab.get_by_role("button", name="Sign me up"),
        "footer link": tab.get_by_role("contentinfo").get_by_role("link", name="Privacy policy"),
    }
    measured = {}
    for name, element in targets.items():
        element.focus()
        measured[name] = element.evaluate(FOCUS_CONTRAST)
    tab.goto("/accounts/signup/")
    checkbox = tab.get_by_role("checkbox").first
    checkbox.focus()
    measured["checkbox"] = checkbox.evaluate(FOCUS_CONTRAST)
    context.close()

    weak = {name: m for name, m in measured.items() if m["best"] < 3}
    assert weak == {}
    assert {m["around"] for m in measured.values()} >= {
        "rgb(11, 79, 138)",  # the header
        "rgb(255, 255, 255)",  # the page
        "rgb(244, 246, 248)",  # the cookie banner and the footer
    }


def test_the_exports_tables_scroll_from_the_keyboard_and_fit_a_phone(browser, live_server):
    # given someone with choices, so the export has tables wider than a phone
    kit = verified("kit@example.com", first_name="Kit")
    for purpose in (Purpose.NEWSLETTER, Purpose.SURVEYS):
        grant_consent(subject=kit, purpose=purpose, source=ConsentSource.PREFERENCE_CENTRE)
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    answer_cookies(context, live_server.url)
    log_in(context, kit, live_server.url)
    tab = context.new_page()
    tab.goto("/accounts/export/")

    # then nothing is cut off: the page itself does not scroll sideways
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    regions = tab.locator(".table-scroll")
    assert regions.count() >= 3
    wide = 0
    for index in range(regions.count()):
        region = regions.nth(index)
        box = region.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        # and each table's box takes focus, and the arrow keys scroll it
        region.focus()
        assert region.evaluate("(el) => el === document.activeElement")
        if region.evaluate("(el) => el.scrollWidth > el.clientWidth"):
            wide += 1
            tab.keyboard.press("ArrowRight")
            tab.wait_for_function("(el) => el.scrollLeft > 0", arg=region.element_handle())
    assert wide >= 1, "a table wider than the phone was scrolled"
    context.close()


def test_on_a_phone_the_cookie_banner_is_compact_and_covers_no_field(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True)
    tab = context.new_page()
    tab.goto("/newsletter/")
    banner = tab.get_by_role("region", name="Cookie choices")

    # the banner takes under a third of the screen
    assert banner.bounding_box()["height"] <= PHONE["height"] / 3
    # "Reject all" is as prominent as "Accept all"
    accept = banner.get_by_role("button", name="Accept all").bounding_box()
    reject = banner.get_by_role("button", name="Reject all").bounding_box()
    assert (round(accept["width"]), round(accept["height"])) == (
        round(reject["width"]),
        round(reject["height"]),
    )
    # and every field and button of the form can be reached and is not under anything
    controls = tab.get_by_role("main").locator("input:not([type=hidden]), button")
    assert controls.count() >= 4
    for index in range(controls.count()):
        control = controls.nth(index)
        control.scroll_into_view_if_needed()
        on_top = control.evaluate(
            """(el) => { const r = el.getBoundingClientRect();
                 const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                 return top === el || el.contains(top); }"""
        )
        assert on_top, control.evaluate("(el) => el.outerHTML")
    context.close()
