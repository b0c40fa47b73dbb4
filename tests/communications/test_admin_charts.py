"""A campaign's admin page draws what became of its deliveries and how many went out each minute,
as SVG with its numbers as text, in a bounded number of queries; a policy-change notice's
publication shows the same."""

from __future__ import annotations

import smtplib
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from communications.models import Campaign, PolicyPublication
from communications.selectors import sends_per_minute
from communications.services import (
    create_campaign,
    populate_campaign,
    send_campaign_batch,
    send_campaign_now,
    suppress_address,
)
from communications.services.policy_changes import (
    publish_policy_change,
    record_business_transition,
)
from consent.models import Purpose
from consent.services import (
    ConsentSource,
    current_policy_version,
    grant_consent,
    save_policy_draft,
    withdraw_consent,
)
from tests.factories import with_second_factor

pytestmark = pytest.mark.django_db

PASSWORD = "a long test password"
CAMPAIGNS = "/admin/communications/campaign/"
PUBLICATIONS = "/admin/communications/policypublication/"
SVG = "{http://www.w3.org/2000/svg}"
# The minute the first batch goes out, in UTC; the page shows times in the site's zone.
T0 = datetime(2025, 5, 3, 13, 2, 10, tzinfo=UTC)


class RefusingBackend(EmailBackend):
    """The provider refuses ``refused@...`` for good, and the connection drops after handing
    over ``lost@...`` (no answer: the message may have arrived)."""

    def send_messages(self, messages):
        for message in messages:
            if message.to[0].startswith("refused@"):
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"no such user")})
            if message.to[0].startswith("lost@"):
                raise OSError("connection reset by peer")
        return super().send_messages(messages)


@pytest.fixture
def provider(settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    settings.EMAIL_BATCH_SIZE = 2
    settings.EMAIL_BATCH_SEND = False


@pytest.fixture
def root(django_user_model) -> Client:
    client = Client()
    client.force_login(
        with_second_factor(
            django_user_model.objects.create_superuser("root@jessops.example", PASSWORD)
        )
    )
    return client


def opted_in(make_user, email: str):
    """A verified account holding the newsletter (opted in to communications)."""
    user = make_user(email)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    grant_consent(subject=user, purpose=Purpose.NEWSLETTER, source=ConsentSource.SIGNUP_FORM)
    return user


def send_batches_at(campaign: Campaign, *moments: datetime) -> None:
    """One batch of the campaign sent in-process at each moment, on a clock set to it."""
    for moment in moments:
        with mock.patch("django.utils.timezone.now", return_value=moment):
            send_campaign_batch(campaign_id=campaign.pk)


def newsletter_to(make_user, *names: str) -> Campaign:
    """A newsletter sending to the people named (in this order: two a batch), queued."""
    for name in names:
        opted_in(make_user, f"{name}@example.com")
    campaign = create_campaign(
        actor=None,
        name="Spring newsletter",
        kind="newsletter",
        subject_line="Spring",
        body="Hello.",
    )
    send_campaign_now(campaign=campaign)
    populate_campaign(campaign_id=campaign.pk)
    return campaign


def hhmm(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def charts(page: str) -> ET.Element:
    """The page's charts, parsed: our own markup, well-formed XML by design."""
    start = page.index('<div class="comms-charts">')
    fragment = page[start : page.index("</div>", start) + len("</div>")]
    return ET.fromstring(fragment)  # noqa: S314 - markup the test server just rendered


def figure(page: str, name: str) -> ET.Element:
    return charts(page).find(f"./figure[@class='comms-chart comms-{name}']")


def minute_bars(page: str) -> list[tuple[str, int, float]]:
    svg = figure(page, "per-minute").find(f"{SVG}svg")
    return [
        (rect.get("data-minute"), int(rect.get("data-sent")), float(rect.get("height")))
        for rect in svg.iter(f"{SVG}rect")
    ]


def minute_table(page: str) -> list[tuple[str, int]]:
    rows = figure(page, "per-minute").find("table").find("tbody")
    return [(row.find("th/time").text, int(row.find("td").text)) for row in rows]


def outcome_rows(page: str) -> dict[str, tuple[str, str]]:
    """Each outcome drawn: its label and the text beside its bar."""
    svg = figure(page, "outcomes").find(f"{SVG}svg")
    drawn = {}
    for group in svg.iter(f"{SVG}g"):
        label, value = (text.text for text in group.iter(f"{SVG}text"))
        drawn[group.get("data-outcome")] = (label, value)
    return drawn


# --- What the page draws -----------------------------------------------------------------------


def test_the_page_draws_sends_per_minute_and_every_outcome(root, make_user, provider):
    # given a newsletter for ten people, two a batch: Wendy withdraws and Sue's address is
    # suppressed after they were queued, the provider refuses one address and loses another
    campaign = newsletter_to(
        make_user, "ann", "bob", "refused", "lost", "carol", "wendy", "dan", "sue", "eve", "fay"
    )
    wendy = get_user_model().objects.get(email="wendy@example.com")
    withdraw_consent(subject=wendy, purpose=Purpose.NEWSLETTER, source=ConsentSource.ONE_CLICK)
    suppress_address("sue@example.com", reason="manual")

    # when four batches go out: at T0, a minute later, and twice three minutes later
    send_batches_at(
        campaign,
        T0,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=3, seconds=30),
        T0 + timedelta(minutes=3, seconds=40),
    )
    page = root.get(f"{CAMPAIGNS}{campaign.pk}/change/").content.decode()

    # then each minute with sends has a bar as tall as its share of the busiest minute
    first, last = hhmm(T0), hhmm(T0 + timedelta(minutes=3))
    assert minute_bars(page) == [(first, 2, 128.0), (last, 2, 128.0)]
    # and the table beside it lists every minute from the first send to the last, quiet ones
    # at zero
    assert minute_table(page) == [
        (first, 2),
        (hhmm(T0 + timedelta(minutes=1)), 0),
        (hhmm(T0 + timedelta(minutes=2)), 0),
        (last, 2),
    ]
    assert "at most 2 in a minute" in page
    # and every outcome that happened is drawn, with its count and share of the ten
    assert outcome_rows(page) == {
        "sent": ("Sent", "4 (40%)"),
        "queued": ("Queued", "2 (20%)"),
        "failed": ("Failed", "2 (20%)"),
        "uncertain": ("of which uncertain (may have arrived)", "1 (10%)"),
        "suppressed": ("Suppressed", "1 (10%)"),
        "skipped_no_consent": ("Skipped: no consent", "1 (10%)"),
    }
    outcomes = figure(page, "outcomes").find(f"{SVG}svg")
    assert outcomes.get("role") == "img"
    assert outcomes.find(f"{SVG}desc").text == (
        "10 deliveries. Sent: 4 (40%); Queued: 2 (20%); Failed: 2 (20%); of which uncertain"
        " (may have arrived): 1 (10%); Suppressed: 1 (10%); Skipped: no consent: 1 (10%)."
    )
    # and nothing is styled inline, which the Content-Security-Policy would refuse
    assert "style=" not in page


def test_the_minutes_drawn_are_the_last_two_hours_of_sending(root, make_user, provider):
    # given a campaign whose first batch went out five hours before its last
    campaign = newsletter_to(make_user, "ann", "bob", "carol", "dan", "eve", "fay")
    last = T0 + timedelta(hours=5)
    send_batches_at(campaign, T0, last - timedelta(minutes=119), last)

    page = root.get(f"{CAMPAIGNS}{campaign.pk}/change/").content.decode()

    # then the database reads only the minutes within two hours of the last send
    assert [row["sent"] for row in sends_per_minute(campaign=campaign)] == [2, 2]
    # and the chart shows the 120 minutes up to the last send, not the first batch
    table = minute_table(page)
    assert len(table) == 120
    assert table[0] == (hhmm(last - timedelta(minutes=119)), 2)
    assert table[-1] == (hhmm(last), 2)
    assert sum(sent for _, sent in table) == 4
    assert "(the last 120 minutes of sending)" in page
    # while the outcomes still count every delivery
    assert outcome_rows(page)["sent"] == ("Sent", "6 (100%)")


def test_a_draft_has_no_charts(root, make_user):
    campaign = create_campaign(
        actor=None, name="Draft", kind="newsletter", subject_line="Later", body="Soon."
    )

    page = root.get(f"{CAMPAIGNS}{campaign.pk}/change/").content.decode()

    assert "No recipients yet" in page
    assert '<figure class="comms-chart' not in page


def test_the_page_reads_as_many_times_for_many_deliveries_as_for_few(root, make_user, provider):
    # given two campaigns, one with six times the deliveries of the other, sent over minutes
    small = newsletter_to(make_user, "ann", "bob")
    send_batches_at(small, T0)
    names = [f"reader{i}" for i in range(12)]
    large = newsletter_to(make_user, *names)
    send_batches_at(large, *(T0 + timedelta(minutes=i) for i in range(4)))
    root.get(f"{CAMPAIGNS}{small.pk}/change/")  # the session, content types: read once

    # when each page is shown
    counts = []
    for campaign in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = root.get(f"{CAMPAIGNS}{campaign.pk}/change/")
        assert response.status_code == 200
        counts.append(len(queries))

    # then both take the same number of queries
    assert counts[0] == counts[1]
    assert len(minute_table(response.content.decode())) == 4


# --- Policy-change notices ---------------------------------------------------------------------


def published_practice_change(root_user) -> PolicyPublication:
    draft = save_policy_draft(
        actor=root_user,
        text=current_policy_version().text + "\n\nWe now keep order records for seven years.",
        summary="Order records kept for seven years.",
        change_type="practice_change",
    )
    return publish_policy_change(draft=draft, actor=root_user, email_practice_change=True)


def test_a_policy_change_notice_shows_its_charts_on_its_publication_and_campaign(
    make_user, django_user_model, provider
):
    # given a practice change emailed to the three people opted in to communications
    for name in ("ann", "bob", "carol"):
        opted_in(make_user, f"{name}@example.com")
    officer = with_second_factor(
        django_user_model.objects.create_superuser("officer@jessops.example", PASSWORD)
    )
    publication = published_practice_change(officer)
    notice = publication.campaign
    assert notice.kind == "policy_change"
    populate_campaign(campaign_id=notice.pk)

    # when its batches go out a minute apart
    send_batches_at(notice, T0, T0 + timedelta(minutes=1))
    client = Client()
    client.force_login(officer)
    pages = [
        client.get(f"{PUBLICATIONS}{publication.pk}/change/").content.decode(),
        client.get(f"{CAMPAIGNS}{notice.pk}/change/").content.decode(),
    ]

    # then both the publication's page and the notice's own page draw them
    for page in pages:
        assert minute_bars(page) == [
            (hhmm(T0), 2, 128.0),
            (hhmm(T0 + timedelta(minutes=1)), 1, 64.0),
        ]
        assert outcome_rows(page) == {"sent": ("Sent", "3 (100%)")}
        assert "3 of 3 sent, 3 of 3 finished" in page
        assert "css/admin-communications.css" in page
        assert "style=" not in page


def test_a_business_transition_shows_the_progress_of_its_notice(
    make_user, django_user_model, provider
):
    # given a transition announced by email to the two people opted in to communications
    for name in ("ann", "bob"):
        opted_in(make_user, f"{name}@example.com")
    officer = with_second_factor(
        django_user_model.objects.create_superuser("officer@jessops.example", PASSWORD)
    )
    today = timezone.localdate()
    transition = record_business_transition(
        actor=officer,
        kind="merger",
        counterparty="Big Camera plc",
        description="We merge with Big Camera plc.",
        announced_on=today,
        effective_on=today + timedelta(days=31),
        email_opted_in=True,
    )
    populate_campaign(campaign_id=transition.campaign_id)
    send_batches_at(transition.campaign, T0)
    client = Client()
    client.force_login(officer)

    # when the officer opens the transition's page
    page = client.get(
        f"/admin/communications/businesstransition/{transition.pk}/change/"
    ).content.decode()

    # then it shows the notice's progress and charts
    assert "2 of 2 sent, 2 of 2 finished" in page
    assert minute_bars(page) == [(hhmm(T0), 2, 128.0)]
    assert outcome_rows(page) == {"sent": ("Sent", "2 (100%)")}
