"""A customer's whole life with an account, in a real browser, with the real Celery worker
relaying the outbox and the SMTP server receiving the mail: sign-up, verification, login,
profile, preferences, a copy of their data, deletion and erasure."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from communications.addresses import address_hash
from communications.kinds import MessageKind
from communications.models import Delivery, Suppression
from consent.models import PolicyVersion, Purpose
from tests.harness.smtp import ReceivedMessage, SMTPServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.smtp,
    pytest.mark.usefixtures("clean_cache"),
]

EMAIL = "ffion.evans@example.com"
PASSWORD = "four tulips on a red bicycle"
MAIL_TIMEOUT = 30.0


def wait_for_mail(smtp: SMTPServer, *, to: str, subject: str) -> ReceivedMessage:
    """The first message to ``to`` whose subject contains ``subject``, waiting for it."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while True:
        for message in smtp.to(to):
            if subject in message.subject:
                return message
        received = len(smtp.messages)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            subjects = [m.subject for m in smtp.messages]
            raise AssertionError(f"no email {subject!r} to {to}; received {subjects}")
        with contextlib.suppress(AssertionError):  # the loop reports what did arrive
            smtp.wait_for(received + 1, timeout=remaining)


def wait_until(condition: Callable[[], object], what: str, *, timeout: float = 30.0) -> None:
    """Poll ``condition`` (a database read, made by another process) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {timeout:.0f} s")
        time.sleep(0.05)


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def logged_in(page: Page):
    return page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out")


def test_a_customer_signs_up_manages_their_data_and_deletes_their_account(
    page: Page, live_server, celery_worker, smtp: SMTPServer
):
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER)
    offers = Purpose.objects.get(code=Purpose.SPECIAL_OFFERS)
    policy = PolicyVersion.objects.order_by("-number").first()
    site = settings.SITE_NAME
    titles: list[str] = []  # of the pages visited, checked at the end

    # --- 1. Sign up, ticking the newsletter -------------------------------------------------------
    page.goto("/accounts/signup/")
    titles.append(page.title())
    page.get_by_label("First name").fill("Ffion")
    page.get_by_label("Last name").fill("Evans")
    page.get_by_label("Email", exact=True).fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_label(newsletter.wording).check()
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    titles.append(page.title())
    assert urlsplit(page.url).path == "/accounts/confirm-email/"
    expect(logged_in(page)).to_have_count(0)

    # --- 2. The welcome email, and its link -------------------------------------------------------
    welcome = wait_for_mail(smtp, to=EMAIL, subject=f"Welcome to {site}")
    types = {part.get_content_type() for part in welcome.message.walk()}
    assert {"text/plain", "text/html"} <= types
    assert welcome.text().startswith("Hello Ffion,")
    assert "Hello Ffion," in welcome.html()
    (link,) = set(re.findall(r"https?://\S+/accounts/confirm-email/[^/\s]+/", welcome.text()))
    assert f'href="{link}"' in welcome.html()

    page.goto(urlsplit(link).path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your email address")
    titles.append(page.title())
    expect(page.get_by_text(f"Please confirm that {EMAIL} is your email address.")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()

    # then they are sent to log in, which they do
    expect(page.get_by_role("status")).to_have_text(f"You have confirmed {EMAIL}.")
    assert urlsplit(page.url).path == "/accounts/login/"
    expect(logged_in(page)).to_have_count(0)
    titles.append(page.title())

    # --- 3. Log in --------------------------------------------------------------------------------
    log_in(page, EMAIL, PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    expect(logged_in(page)).to_be_visible()
    user = get_user_model().objects.get(email=EMAIL)

    # --- 4. The profile: an address and a phone, saved normalised ---------------------------------
    page.goto("/accounts/profile/")
    titles.append(page.title())
    page.get_by_label("Address line 1").fill("10 Downing Street")
    page.get_by_label("Town or city").fill("London")
    page.get_by_label("Postcode").fill("sw1a1aa")
    page.get_by_label("Phone number").fill("07700 900123")
    page.get_by_role("button", name="Save my details").click()

    expect(page.get_by_role("status")).to_contain_text("Your profile is saved.")
    expect(page.get_by_label("Address line 1")).to_have_value("10 Downing Street")
    expect(page.get_by_label("Town or city")).to_have_value("London")
    expect(page.get_by_label("Postcode")).to_have_value("SW1A 1AA")
    expect(page.get_by_label("Phone number")).to_have_value("+447700900123")
    changes = page.get_by_role("region", name="Recent changes to your details")
    postcode_row = changes.get_by_role("row").filter(has_text="Postcode")
    expect(postcode_row).to_have_count(1)
    expect(postcode_row.get_by_role("cell")).to_have_text(
        ["Postcode", "(empty)", "SW1A 1AA", re.compile(r"\d"), "You"]
    )

    # --- 5. Preferences: newsletter off, special offers on, and a receipt -------------------------
    page.goto("/preferences/")
    titles.append(page.title())
    expect(page.get_by_label(newsletter.wording)).to_be_checked()
    page.get_by_label(newsletter.wording).uncheck()
    page.get_by_label(offers.wording).check()
    page.get_by_role("button", name="Save my choices").click()

    expect(page.get_by_role("status")).to_have_text(
        f"Saved. {newsletter.name}: off; {offers.name}: on."
    )
    expect(page.get_by_label(newsletter.wording)).not_to_be_checked()
    expect(page.get_by_label(offers.wording)).to_be_checked()
    receipt = wait_for_mail(smtp, to=EMAIL, subject=f"Your {site} email preferences have changed")
    assert f"under version {policy.number} of our privacy policy" in receipt.text()
    assert f"- {newsletter.name}: off" in receipt.text()
    assert f"- {offers.name}: on" in receipt.text()
    wait_until(
        lambda: not Delivery.objects.filter(user=user).exclude(status=Delivery.Status.SENT),
        "every email marked sent",
    )

    # --- 6. A copy of everything: the page, then the file -----------------------------------------
    page.goto("/accounts/export/")
    titles.append(page.title())
    expect(page.get_by_role("heading", level=1)).to_have_text("Everything we hold about you")
    account = page.get_by_role("region", name="Your account and details")
    for value in (EMAIL, "Ffion", "Evans", "10 Downing Street", "London", "SW1A 1AA", "+4477"):
        expect(account).to_contain_text(value)
    history = page.get_by_role("table", name=re.compile("Every choice you made"))
    rows = history.locator("tbody tr")
    expect(rows).to_have_count(3)  # newsletter granted, then withdrawn; special offers granted
    version = history.get_by_role("columnheader").all_inner_texts().index("Policy version")
    for row in rows.all():
        expect(row.get_by_role("cell").nth(version)).to_have_text(str(policy.number))
    emails = page.get_by_role("table", name=re.compile("Every email"))
    expect(emails.locator("tbody tr")).to_have_count(2)
    expect(emails).to_contain_text(MessageKind.WELCOME.label)
    expect(emails).to_contain_text(MessageKind.CONSENT_RECEIPT.label)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download it as a file (JSON)").click()
    download = download_info.value
    assert re.fullmatch(r"personal-data-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
    with open(download.path(), encoding="utf-8") as file:
        data = json.load(file)
    assert data["account"]["email"] == EMAIL
    assert (data["account"]["first_name"], data["account"]["last_name"]) == ("Ffion", "Evans")
    assert data["profile"]["postcode"] == "SW1A 1AA"
    assert data["profile"]["phone"] == "+447700900123"
    consent_history = data["consent"]["consent_history"]
    assert [(e["purpose"], e["decision"]) for e in consent_history] == [
        (offers.name, "granted"),
        (newsletter.name, "withdrawn"),
        (newsletter.name, "granted"),
    ]
    assert {e["policy_version"] for e in consent_history} == {policy.number}
    assert [e["kind"] for e in data["emails"]["emails"]] == [
        MessageKind.CONSENT_RECEIPT.label,
        MessageKind.WELCOME.label,
    ]

    # --- 7. Deleting the account: a wrong password first, then the right one ----------------------
    page.goto("/accounts/delete/")
    titles.append(page.title())
    page.get_by_label("Your password").fill("not my password at all")
    page.get_by_role("button", name="Delete my account and data").click()

    expect(page.get_by_role("alert")).to_have_text("That is not your password.")
    user.refresh_from_db()
    assert user.is_active and user.erasure_requested_at is None
    page.goto("/accounts/profile/")
    expect(page.get_by_label("Postcode")).to_have_value("SW1A 1AA")  # still logged in

    page.goto("/accounts/delete/")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account and data").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your account is closed")
    titles.append(page.title())
    expect(page.get_by_text(f"A confirmation is on its way to {EMAIL}")).to_be_visible()
    expect(logged_in(page)).to_have_count(0)
    goodbye = wait_for_mail(smtp, to=EMAIL, subject=f"Your {site} account is being deleted")
    assert goodbye.text().startswith("Hello Ffion,")
    wait_until(lambda: get_user_model().objects.get(pk=user.pk).erased_at, "erased")
    user.refresh_from_db()
    assert user.email == f"erased-{user.pk}@erased.invalid"
    assert (user.first_name, user.last_name, user.is_active) == ("", "", False)
    assert not user.has_usable_password()
    suppression = Suppression.objects.get(address_hash=address_hash(EMAIL))
    assert suppression.reason == Suppression.Reason.ERASURE
    # the confirmation went before the data did
    confirmation = Delivery.objects.get(kind=MessageKind.ERASURE_CONFIRMATION)
    assert confirmation.status == Delivery.Status.SENT
    assert confirmation.sent_at <= user.erased_at
    # and it was the last of exactly three emails to the address
    assert [m.subject for m in smtp.to(EMAIL)] == [
        welcome.subject,
        receipt.subject,
        goodbye.subject,
    ]

    # --- 8. The old email and password no longer log in: as for an unknown account ----------------
    refused = "The email address and/or password you specified are not correct."
    log_in(page, EMAIL, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(refused)
    assert urlsplit(page.url).path == "/accounts/login/"
    expect(logged_in(page)).to_have_count(0)
    for_old_account = page.get_by_role("main").inner_text()
    log_in(page, "nobody.here@example.com", PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(refused)
    assert page.get_by_role("main").inner_text() == for_old_account

    # --- Every page visited has a plain-text title ------------------------------------------------
    # Checked last, so the journey above is proven whatever the titles say. This fails while
    # templates/accounts/profile.html has its "Your data and your account" section inside
    # {% block title %}: the profile page's <title> is then that section's markup, as text.
    assert titles == [
        f"{title} · {site}"
        for title in (
            "Sign up",
            "Check your inbox",
            "Confirm your email address",
            "Log in",
            "Your details",
            "Email preferences",
            "Your data",
            "Delete your account",
            "Account deleted",
        )
    ]
