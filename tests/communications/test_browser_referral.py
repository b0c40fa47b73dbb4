"""In a real browser: a customer sends their wishlist to a friend, the friend's email arrives at
the SMTP server through the worker, and the friend follows its link and signs up, which the
staff's report counts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from communications.referrals.models import Referral, ReferralEvent
from tests.factories import TEST_PASSWORD, UserFactory
from tests.harness.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.smtp]


def test_a_customer_sends_their_wishlist_and_the_friend_follows_it_and_signs_up(
    page, browser, live_server, celery_worker, smtp, settings
):
    # given a logged-in customer
    ann = UserFactory(email="ann@example.com", first_name="Ann", last_name="Lee", verified=True)
    log_in(page.context, ann, live_server.url)

    # when they fill in the wishlist form and send it
    page.goto("/")
    page.get_by_role("link", name="Send a wishlist").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send your wishlist to a friend")
    page.get_by_label("Your friend's name").fill("Wilhelmina Thornbury")
    page.get_by_label("Your friend's email address").fill("wilhelmina@friends.example")
    product = page.get_by_role("group", name="Product 1")
    product.get_by_label("Product name").fill("Tripod")
    product.get_by_label("Link to it in our shop").fill(f"{settings.SITE_URL}/products/tripod/")
    page.get_by_label("A short message (optional)").fill("Happy to share!")
    page.get_by_role("button", name="Send my wishlist").click()

    # then the page confirms it without naming the friend
    expect(page.get_by_role("heading", level=1)).to_have_text("Your wishlist is on its way")
    expect(page.locator("main")).not_to_contain_text("Wilhelmina")

    # and the friend's email arrives at the SMTP server
    (received,) = smtp.wait_for(1)
    assert received.rcpt_tos == ("wilhelmina@friends.example",)
    assert received.subject == "Ann Lee shared a wishlist with you"
    assert "Happy to share!" in received.text() and "Tripod" in received.text()
    referral = Referral.objects.get()
    link = re.search(rf"https?://[^\s]+/wishlist/from/{referral.token}/", received.text())
    assert link, received.text()

    # when the friend, in their own browser allowing analytics cookies, follows the email's
    # link and signs up
    friend = browser.new_context(base_url=live_server.url)
    tab = friend.new_page()
    tab.goto("/")
    tab.get_by_role("button", name="Accept all").click()
    tab.wait_for_load_state()
    tab.goto("/wishlist/from/" + link.group(0).split("/wishlist/from/", 1)[1])
    expect(tab).to_have_url(f"{live_server.url}/")
    tab.goto("/accounts/signup/")
    tab.get_by_label("First name").fill("Willa")
    tab.get_by_label("Last name").fill("Thorn")
    tab.locator("input[name=email]").fill("willa@friends.example")
    tab.locator("input[name=password1]").fill(TEST_PASSWORD)
    tab.locator("input[name=password2]").fill(TEST_PASSWORD)
    tab.get_by_role("button", name="Sign up").click()
    tab.wait_for_url(lambda url: "/accounts/signup/" not in url)
    friend.close()

    # then one click and one sign-up are counted for the referral
    counted = sorted(ReferralEvent.objects.filter(referral=referral).values_list("kind", flat=True))
    assert counted == ["click", "signup"]
