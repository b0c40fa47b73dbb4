"""The newsletter's double opt-in services: a request makes a signed confirmation link and
stores nothing; confirming records the words shown when asking, and only a confirmation
link confirms. (The pages that call them: tests/communications/test_newsletter.py.)"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from communications.views.newsletter import confirmation_url
from consent.models import ConsentEvent, Purpose
from consent.provenance import Provenance
from consent.services import confirm_newsletter_subscription, request_newsletter_subscription
from consent.tokens import TokenError, TokenUse, make_token
from tests.factories import UserFactory

WEB = Provenance(ip_address="192.0.2.0", user_agent="pytest")

pytestmark = pytest.mark.django_db


def nothing_stored() -> bool:
    return not get_user_model().objects.exists() and not ConsentEvent.objects.exists()


def test_the_service_returns_an_absolute_confirmation_url_and_writes_nothing(settings):
    settings.SITE_URL = "https://www.jessops.example"

    url = request_newsletter_subscription(
        email="Nia@Example.com",
        first_name="Nia",
        last_name="Jones",
        provenance=WEB,
        confirm_url=confirmation_url,
    )

    assert url.startswith("https://www.jessops.example/newsletter/confirm/")
    assert url.endswith("/")
    assert nothing_stored()


def test_the_service_logs_the_request_with_the_address_masked(caplog):
    caplog.set_level(logging.INFO, logger="consent.services.newsletter")

    request_newsletter_subscription(
        email="nia.jones@example.com", first_name="N", provenance=WEB, confirm_url=confirmation_url
    )

    [record] = [r for r in caplog.records if r.name == "consent.services.newsletter"]
    assert record.levelname == "INFO"
    assert "n***@example.com" in record.getMessage()
    assert "nia.jones" not in caplog.text


def test_the_consent_records_the_words_shown_at_sign_up_not_later_ones():
    url = request_newsletter_subscription(
        email="new.reader@example.com",
        first_name="Nia",
        provenance=WEB,
        confirm_url=confirmation_url,
    )
    newsletter = Purpose.objects.get(code="newsletter")
    shown = newsletter.wording
    newsletter.wording = "Reworded after the person signed up."
    newsletter.save(update_fields=["wording"])

    subscriber = confirm_newsletter_subscription(
        token=urlsplit(url).path.split("/")[-2], provenance=WEB
    ).subscriber

    assert ConsentEvent.objects.get(subject=subscriber).wording == shown


def test_a_preference_or_unsubscribe_token_is_not_a_confirmation():
    user = UserFactory(password=None)
    for use in TokenUse:
        with pytest.raises(TokenError):
            confirm_newsletter_subscription(token=make_token(subject=user, use=use), provenance=WEB)
    assert not ConsentEvent.objects.exists()
