"""Screenshots of the pages people see most, on a phone (375 px) and a laptop (1280 px), kept
for review in ``<VAR_DIR>/screenshots/`` (``var/screenshots/`` by default). Each page must also
fit its screen: no sideways scrolling."""

from __future__ import annotations

from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model

from consent.models import Purpose
from consent.services import ConsentSource, grant_consent
from tests.factories import TEST_PASSWORD
from tests.harness.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_cache")]

WIDTHS = {"phone": 375, "laptop": 1280}
PAGES = {"home": "/", "sign-up": "/accounts/signup/", "cookies": "/cookies/"}


def screenshot_folder() -> Path:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("device", WIDTHS)
def test_the_main_pages_are_photographed_and_fit_the_screen(browser, live_server, device):
    width = WIDTHS[device]
    folder = screenshot_folder()
    # someone with a history of choices, for the preference centre
    ivy = get_user_model().objects.create_user("ivy@example.com", TEST_PASSWORD, first_name="Ivy")
    EmailAddress.objects.create(user=ivy, email=ivy.email, verified=True, primary=True)
    grant_consent(subject=ivy, purpose=Purpose.NEWSLETTER, source=ConsentSource.SIGNUP_FORM)
    grant_consent(subject=ivy, purpose=Purpose.SURVEYS, source=ConsentSource.PREFERENCE_CENTRE)

    visitor = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 800}
    )
    member = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 800})
    log_in(member, ivy, live_server.url)
    shots = [(visitor, name, path) for name, path in PAGES.items()]
    shots.append((member, "preferences", "/preferences/"))
    try:
        for context, name, path in shots:
            tab = context.new_page()
            response = tab.goto(path)
            assert response is not None and response.ok, path
            scroll_width = tab.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{path} scrolls sideways at {width} px"
            target = folder / f"{name}-{width}.png"
            tab.screenshot(path=str(target), full_page=True)
            assert target.stat().st_size > 10_000, f"{target} holds a picture"
            tab.close()
    finally:
        visitor.close()
        member.close()
