"""What the periods change for people, through the site: a browser whose cookie choice is
older than the period is asked again, and a wishlist link older than its counting period no
longer counts clicks (before and after the job empties it)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from communications.referrals.models import Referral, ReferralEvent
from consent.models import CookieConsent, PolicyVersion
from retention import engine
from retention.schedule import BY_KEY
from tests.retention.cases import person

pytestmark = pytest.mark.django_db

COOKIE = "cookie_consent_id"
BANNER = 'aria-label="Cookie choices"'
HOUR = timedelta(hours=1)


def browser_with_choice(client, made_at):
    anonymous_id = uuid.uuid4()
    CookieConsent.objects.create(
        anonymous_id=anonymous_id,
        analytics=True,
        marketing=True,
        policy_version=PolicyVersion.objects.order_by("-number").first(),
        created_at=made_at,
    )
    client.cookies[COOKIE] = str(anonymous_id)
    return client


@pytest.mark.parametrize("days", [365, 30])
def test_a_browser_whose_choice_is_older_than_the_period_is_asked_again(client, settings, days):
    settings.RETENTION_COOKIE_CHOICES_DAYS = days
    period = timedelta(days=days)
    browser_with_choice(client, timezone.now() - period - HOUR)

    assert BANNER in client.get("/").content.decode()

    # and after the job deletes the old choice, still
    assert engine.run(BY_KEY["cookie_choices"]).deleted == 1
    assert BANNER in client.get("/").content.decode()


def test_a_browser_whose_choice_is_within_the_period_is_not_asked(client, settings):
    settings.RETENTION_COOKIE_CHOICES_DAYS = 365
    browser_with_choice(client, timezone.now() - timedelta(days=365) + HOUR)

    assert BANNER not in client.get("/").content.decode()
    assert engine.run(BY_KEY["cookie_choices"]).deleted == 0
    assert BANNER not in client.get("/").content.decode()


def referral_sent(at) -> Referral:
    return Referral.objects.create(
        token=uuid.uuid4().hex, sender=person(), status=Referral.Status.SENT, created_at=at
    )


def click(client, token: str):
    client.post("/cookies/", {"choice": "accept_all", "next": "/"})  # allows analytics
    return client.get(f"/wishlist/from/{token}/")


def test_a_link_within_its_counting_period_counts_a_click(client, settings):
    settings.RETENTION_REFERRAL_TOKENS_DAYS = 90
    referral = referral_sent(timezone.now() - timedelta(days=90) + HOUR)

    response = click(client, referral.token)

    assert response.status_code == 302 and response["Location"] == "/"
    assert ReferralEvent.objects.filter(referral=referral, kind="click").count() == 1


@pytest.mark.parametrize("days", [90, 7])
def test_a_link_older_than_its_counting_period_counts_nothing(client, settings, days):
    settings.RETENTION_REFERRAL_TOKENS_DAYS = days
    referral = referral_sent(timezone.now() - timedelta(days=days) - HOUR)
    token = referral.token

    # before the job has emptied it
    response = click(client, token)
    assert response.status_code == 302 and response["Location"] == "/"
    assert not ReferralEvent.objects.exists()

    # and after
    assert engine.run(BY_KEY["referral_tokens"]).trimmed == 1
    referral.refresh_from_db()
    assert referral.token is None and referral.sender_id is None
    response = click(client, token)
    assert response.status_code == 302 and response["Location"] == "/"
    assert not ReferralEvent.objects.exists()
