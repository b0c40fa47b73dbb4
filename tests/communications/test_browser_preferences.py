"""In a real browser: log in, choose emails in the preference centre, unsubscribe by link."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from consent.models import ConsentEvent, Purpose
from consent.selectors import consent_status
from consent.services import ConsentSource
from consent.tokens import TokenUse, make_token
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.browser


def test_a_customer_chooses_the_newsletter_then_unsubscribes_by_link(
    page, live_server, transactional_db
):
    # given a customer with an account
    customer = UserFactory(email="kim@example.com", verified=True)  # login needs a verified address
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER)

    # when they log in and tick the newsletter in the preference centre
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill("kim@example.com")
    page.locator("input[name=password]").fill(TEST_PASSWORD)
    page.locator("form:has(input[name=password]) [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto("/preferences/")
    page.get_by_label(newsletter.wording).check()
    page.get_by_role("button", name="Save my choices").click()

    # then the page says what changed and the history shows it
    expect(page.get_by_role("status")).to_contain_text("Newsletter: on")
    history = page.get_by_role("region", name="Your consent history").get_by_role("listitem").first
    expect(history).to_contain_text("Newsletter: turned on")
    expect(history).to_contain_text("In your email preferences")
    expect(page.get_by_label(newsletter.wording)).to_be_checked()

    # when they follow the unsubscribe link of an email and press the button
    token = make_token(subject=customer, use=TokenUse.UNSUBSCRIBE, purpose="newsletter")
    page.goto(f"/unsubscribe/{token}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    page.get_by_role("button", name="Unsubscribe").click()

    # then they see the confirmation and the newsletter is withdrawn, by the link
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    expect(page.get_by_role("link", name="Manage your email preferences")).to_be_visible()
    assert not consent_status(subject=customer)["newsletter"].granted
    latest = ConsentEvent.objects.filter(subject=customer).first()
    assert (latest.purpose_id, latest.granted, latest.source) == (
        newsletter.pk,
        False,
        ConsentSource.UNSUBSCRIBE_LINK,
    )


def test_the_preference_centre_fits_a_phone_screen(page, live_server, transactional_db):
    customer = UserFactory(email="pat@example.com")
    page.set_viewport_size({"width": 360, "height": 740})

    page.goto(f"/preferences/{make_token(subject=customer, use=TokenUse.PREFERENCES)}/")

    expect(page.get_by_role("heading", level=1)).to_have_text("Email preferences")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
