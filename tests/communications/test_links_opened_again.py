"""A link from an email opened again after it did its work says what is true now: an
unsubscribe link once unsubscribed, a newsletter confirmation once confirmed."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from communications.views.newsletter import confirmation_url
from consent.models import ConsentEvent, Purpose
from consent.provenance import Provenance
from consent.services import ConsentSource, grant_consent
from consent.services.newsletter import request_newsletter_subscription
from consent.tokens import ALL_PURPOSES, TokenUse, make_token
from tests.harness.http import text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]

ABOUT_TO_STOP = "You are about to stop receiving"


@pytest.fixture
def rhys():
    user = get_user_model().objects.create_user("rhys@example.com")
    for purpose in (Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS):
        grant_consent(subject=user, purpose=purpose, source=ConsentSource.SIGNUP_FORM)
    return user


def unsubscribe_link(user, purpose: str = Purpose.NEWSLETTER) -> str:
    return f"/unsubscribe/{make_token(subject=user, use=TokenUse.UNSUBSCRIBE, purpose=purpose)}/"


def test_an_unsubscribe_link_opened_again_says_the_person_is_already_unsubscribed(client, rhys):
    link = unsubscribe_link(rhys)
    client.post(link)
    events = ConsentEvent.objects.count()

    page = text(client.get(link))

    assert ABOUT_TO_STOP not in page
    assert "You are already unsubscribed" in page
    assert "You do not receive <strong>Newsletter</strong> emails" in page
    assert ">Unsubscribe</button>" not in page
    assert re.search(r'<a href="/preferences/[^"]+/">Manage your email preferences</a>', page)
    assert ConsentEvent.objects.count() == events, "opening it changed nothing"


def test_an_unsubscribe_link_for_a_kind_never_chosen_says_so_too(client, rhys):
    page = text(client.get(unsubscribe_link(rhys, Purpose.SURVEYS)))

    assert "You are already unsubscribed" in page
    assert "You do not receive <strong>Surveys and contests</strong> emails" in page


def test_an_unsubscribe_link_still_asks_while_the_person_receives_that_email(client, rhys):
    # given the newsletter stopped but special offers still on
    client.post(unsubscribe_link(rhys))

    page = text(client.get(unsubscribe_link(rhys, ALL_PURPOSES)))

    assert f"{ABOUT_TO_STOP} <strong>all marketing emails</strong>" in page
    assert ">Unsubscribe</button>" in page


def test_an_unsubscribe_from_all_link_opened_again_says_so(client, rhys):
    link = unsubscribe_link(rhys, ALL_PURPOSES)
    client.post(link)

    page = text(client.get(link))

    assert ABOUT_TO_STOP not in page
    assert "You do not receive <strong>any marketing emails</strong>" in page


def test_a_used_newsletter_confirmation_link_says_it_was_used_and_offers_nothing(client):
    url = request_newsletter_subscription(
        email="nia@example.com",
        first_name="Nia",
        provenance=Provenance(),
        confirm_url=confirmation_url,
    )
    link = re.search(r"/newsletter/confirm/[^/]+/", url)[0]
    assert "Yes, subscribe me" in text(client.get(link))
    client.post(link)

    page = text(client.get(link))

    assert "Yes, subscribe me" not in page
    assert "Already confirmed" in page
    assert "This confirmation link has already been used" in page
