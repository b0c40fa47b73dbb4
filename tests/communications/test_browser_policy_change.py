"""Policy changes in a real browser: a use change's email, received at the SMTP server from the
real worker, followed to the choice page without logging in; the choice after login, skipped;
a practice change's notice closed on one device and still closed on another."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from communications.services.policy_changes import publish_policy_change
from consent.models import ConsentEvent, Purpose
from consent.selectors import may_use_for_purpose
from consent.services import ConsentSource, current_policy_version, save_policy_draft
from tests.accounts.test_browser_account import wait_for_mail
from tests.factories import TEST_PASSWORD
from tests.harness.smtp import SMTPServer

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_cache")]

NEW_USE = {
    "code": "purchase_analysis",
    "name": "Shopping analysis",
    "wording": "We may analyse what you buy to suggest products you may like.",
}
NOTICE = "Our privacy policy changed"


def customer(make_user, email: str, first_name: str):
    """A verified account holding the newsletter (opted in to communications)."""
    return make_user(email, first_name=first_name, verified=True, consents=[Purpose.NEWSLETTER])


def publish(change_type: str, summary: str, **draft):
    officer = _officer()
    text = current_policy_version().text + f"\n\n{summary}"
    published = save_policy_draft(
        actor=officer, text=text, summary=summary, change_type=change_type, **draft
    )
    return publish_policy_change(draft=published, actor=officer)


def _officer():
    from django.contrib.auth import get_user_model

    officer, _ = get_user_model().objects.get_or_create(
        email="officer@jessops.example", defaults={"is_staff": True}
    )
    return officer


def log_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.mark.worker
@pytest.mark.smtp
def test_a_notified_person_chooses_from_the_email_without_logging_in(
    page: Page, live_server, celery_worker, smtp: SMTPServer, make_user
):
    # given Ann and Bob, both opted in to the newsletter
    ann = customer(make_user, "ann@example.com", "Ann")
    bob = customer(make_user, "bob@example.com", "Bob")
    smtp.clear()

    # when a use change is published, the worker sends its notice
    publication = publish("use_change", "We may analyse purchases.", new_purposes=[NEW_USE])
    purpose = Purpose.objects.get(code=NEW_USE["code"])
    email = wait_for_mail(smtp, to=ann.email, subject="Your choice: a new use of your data")
    wait_for_mail(smtp, to=bob.email, subject="Your choice: a new use of your data")

    # then the email says what changed, and links to the differences and to the choice
    text = email.text()
    assert "What changed: We may analyse purchases." in text
    assert f"/privacy/{publication.version.number}/" in text
    (link,) = set(re.findall(r"https?://\S+/privacy/choices/[^/\s]+/", text))
    assert f'href="{link}"' in email.html()

    # when Ann follows the link (no login) and says yes to the new use
    page.goto(urlsplit(link).path)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your choice on a new use of your data"
    )
    choice = page.get_by_role("group", name=NEW_USE["name"])
    expect(choice).to_contain_text(NEW_USE["wording"])
    choice.get_by_label("Yes, you may").check()
    page.get_by_role("button", name="Save my choice").click()

    # then she sees it recorded, as a re-consent under the new version
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choice is saved")
    expect(page.locator(".policy-choice-answers")).to_have_text(f"{NEW_USE['name']}: yes")
    event = ConsentEvent.objects.get(subject=ann, purpose=purpose)
    assert event.granted and event.source == ConsentSource.RECONSENT
    assert event.policy_version == publication.version
    assert may_use_for_purpose(subject=ann, purpose=purpose)
    # and Bob, who has not answered, stays out
    assert not may_use_for_purpose(subject=bob, purpose=purpose)

    # when she continues, she is back on the site's home page, still not logged in
    page.get_by_role("link", name="Continue").click()
    assert urlsplit(page.url).path == "/"
    expect(page.get_by_role("link", name="Log in").first).to_be_visible()


def test_the_choice_after_login_comes_once_and_can_be_skipped(page: Page, live_server, make_user):
    # given a use change, and Cai who has not answered it
    cai = customer(make_user, "cai@example.com", "Cai")
    publish("use_change", "We may analyse purchases.", new_purposes=[NEW_USE])
    purpose = Purpose.objects.get(code=NEW_USE["code"])

    # when Cai logs in, the next page is the choice
    log_in(page, cai.email)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your choice on a new use of your data"
    )
    assert urlsplit(page.url).path == "/privacy/choices/"
    expect(page.get_by_role("group", name=NEW_USE["name"])).to_be_visible()

    # and they skip it
    page.get_by_role("link", name="Decide later").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text(
        "Your choice on a new use of your data"
    )
    assert urlsplit(page.url).path != "/privacy/choices/"

    # then they are not asked again in this visit, and the new use stays off
    page.goto("/accounts/profile/")
    assert urlsplit(page.url).path == "/accounts/profile/"
    page.goto("/preferences/")
    assert urlsplit(page.url).path == "/preferences/"
    assert not ConsentEvent.objects.filter(subject=cai, purpose=purpose).exists()
    assert not may_use_for_purpose(subject=cai, purpose=purpose)


def test_a_closed_notice_stays_closed_on_another_device(
    page: Page, browser, live_server, make_user
):
    # given a practice change, and Dee with an account
    dee = customer(make_user, "dee@example.com", "Dee")
    publish("practice_change", "Photo printing by CEWE.")

    # then everyone sees the notice on the home page
    page.goto("/")
    notice = page.get_by_role("region", name="Privacy policy change notice")
    expect(notice).to_contain_text(NOTICE)
    expect(notice).to_contain_text("Photo printing by CEWE.")

    # when Dee logs in, she sees it on other pages too, and closes it
    log_in(page, dee.email)
    page.goto("/preferences/")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="Close this notice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Email preferences")
    expect(notice).to_have_count(0)
    page.goto("/")
    expect(notice).to_have_count(0)

    # when she logs in on another device (a browser with none of this one's cookies)
    other = browser.new_context(base_url=live_server.url)
    try:
        phone = other.new_page()
        log_in(phone, dee.email)
        # then the notice stays closed there, on every page
        for path in ("/", "/preferences/", "/privacy/"):
            phone.goto(path)
            expect(phone.locator(".site-notice-policy")).to_have_count(0)
        # while someone not logged in still sees it on the home page
        stranger = browser.new_context(base_url=live_server.url).new_page()
        stranger.goto("/")
        expect(stranger.locator(".site-notice-policy")).to_contain_text(NOTICE)
        stranger.context.close()
    finally:
        other.close()
