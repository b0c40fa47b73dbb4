"""A campaign's admin page in Chromium: its charts drawn under the Content-Security-Policy with
nothing refused, and the preview showing the email with its own inline styles applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import Page

from communications.models import Campaign
from communications.services import (
    create_campaign,
    populate_campaign,
    send_campaign_batch,
    send_campaign_now,
)
from consent.models import Purpose
from consent.services import ConsentSource, grant_consent
from tests.factories import TEST_PASSWORD, SuperuserFactory
from tests.harness.browser import log_in_to_admin as log_in_as_staff

pytestmark = pytest.mark.browser

T0 = datetime(2025, 5, 3, 13, 2, 10, tzinfo=UTC)
# Reported by each document itself: Chromium's own "Refused to ..." console lines don't reach
# Playwright. (The email's frame runs no script; its styles applying is its proof.)
REPORT_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', (event) => console.error("
    "`Refused (CSP): ${event.violatedDirective} ${event.blockedURI}"
    " ${event.sourceFile}:${event.lineNumber}`));"
)


@pytest.fixture
def watched(page: Page) -> Page:
    page.problems = []
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: "Refused" in message.text and page.problems.append(message.text),
    )
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    return page


class HeldTask:
    """Stands in for a Celery task: the live server's data is committed, so a real task would
    reach whichever worker is running and send the campaign on the real clock."""

    def delay(self, *args, **kwargs) -> None:
        pass

    def apply_async(self, *args, **kwargs) -> None:
        pass


@pytest.fixture
def sent_campaign(make_user, settings, monkeypatch) -> Campaign:
    """A newsletter for three people, sent two a minute, in-process on a set clock."""
    settings.EMAIL_BATCH_SIZE = 2
    monkeypatch.setattr("communications.tasks.populate_campaign_task", HeldTask())
    monkeypatch.setattr("communications.tasks.send_campaign_batch_task", HeldTask())
    for name in ("ann", "bob", "carol"):
        user = make_user(f"{name}@example.com")
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        grant_consent(subject=user, purpose=Purpose.NEWSLETTER, source=ConsentSource.SIGNUP_FORM)
    campaign = create_campaign(
        actor=None,
        name="Spring newsletter",
        kind="newsletter",
        subject_line="Spring",
        body="Hello.",
    )
    send_campaign_now(campaign=campaign)
    populate_campaign(campaign_id=campaign.pk)
    for minute in range(2):
        with mock.patch("django.utils.timezone.now", return_value=T0 + timedelta(minutes=minute)):
            send_campaign_batch(campaign_id=campaign.pk)
    return campaign


def log_in_to_admin(page: Page, django_user_model) -> None:
    root = SuperuserFactory(email="root@jessops.example", verified=True)
    log_in_as_staff(page, root, TEST_PASSWORD)


def computed(locator, prop: str) -> str:
    return locator.evaluate(f"element => getComputedStyle(element).{prop}")


def test_the_campaign_page_and_its_preview_show_with_nothing_refused(
    watched: Page, sent_campaign: Campaign, django_user_model
):
    page = watched
    log_in_to_admin(page, django_user_model)

    # when staff open the campaign's page
    page.goto(f"/admin/communications/campaign/{sent_campaign.pk}/change/")

    # then its charts are drawn, coloured by the stylesheet, their numbers there as text
    minute_bars = page.locator(".comms-per-minute rect.comms-chart-minute")
    assert minute_bars.count() == 2
    assert computed(minute_bars.first, "fill") == "rgb(21, 101, 192)"
    sent_bar = page.locator(".comms-outcomes rect.comms-chart-sent")
    assert computed(sent_bar, "fill") == "rgb(46, 125, 50)"
    assert page.get_by_role("img", name="What became of each delivery").count() == 1
    assert page.get_by_role("img", name="Messages sent per minute").count() == 1
    table = page.get_by_role("table", name="Messages sent per minute")
    assert table.locator("tbody tr").count() == 2

    # when they follow the preview
    page.get_by_role("link", name="Preview").click()
    page.wait_for_url("**/preview/")
    frame = page.frame_locator("iframe.comms-frame")
    body = frame.locator("body")
    body.wait_for()

    # then the email shows with its inline styles applied, in its own frame
    assert "Hello Sam" in body.inner_text()
    assert computed(body, "backgroundColor") == "rgb(244, 244, 244)"
    assert computed(body, "margin") == "0px"
    # and neither page had anything refused
    assert page.problems == []
