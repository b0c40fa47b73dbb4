"""Addresses longer than an address can be (254 characters, RFC 5321) are refused with a clear
form error on every form that takes one, and nothing is stored: no account, no consent row, no
email."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client

from communications.models import Delivery
from consent.models import ConsentEvent, CurrentConsent
from tests.accounts.test_signup import PASSWORD, logged_in, login, signup, verify, welcome_for
from tests.harness.http import text

pytestmark = pytest.mark.usefixtures("clean_cache")

TOO_LONG = "has at most 254 characters"


def long_address(length: int) -> str:
    """A well-formed address of ``length`` characters: a 64-character local part (the limit)
    and a domain of labels of at most 63 characters."""
    room = length - len("n" * 64 + "@") - len(".example")  # for the labels and their dots
    labels = []
    while room > 0:
        size = 62 if room == 64 else min(63, room)  # never leave room for a dot alone
        labels.append("d" * size)
        room -= size + 1
    return "n" * 64 + "@" + ".".join(labels) + ".example"


@pytest.mark.parametrize("length", [255, 290, 320])
def test_a_signup_with_an_address_over_254_characters_is_refused_and_stores_nothing(
    db, client, length
):
    address = long_address(length)
    assert len(address) == length and "@" in address

    for _attempt in range(2):  # a repeat once gave a 500
        response = signup(client, address, "newsletter")

        assert response.status_code == 200
        assert TOO_LONG in text(response)
    assert not get_user_model().objects.exists()
    assert not EmailAddress.objects.exists()
    assert not ConsentEvent.objects.exists()
    assert not CurrentConsent.objects.exists()
    assert not Delivery.objects.exists()


def test_a_254_character_address_still_signs_up(db, client):
    address = long_address(254)
    assert len(address) == 254

    response = signup(client, address)

    assert response.status_code == 302
    user = get_user_model().objects.get()
    assert user.email == address
    assert welcome_for(user).to_email == address


def test_adding_an_address_over_254_characters_to_an_account_is_refused(db, client: Client):
    signup(client, "nia@example.com")
    user = get_user_model().objects.get(email="nia@example.com")
    verify(client, welcome_for(user).context["verify_url"])
    login(client, "nia@example.com", PASSWORD)
    assert logged_in(client)
    deliveries = Delivery.objects.count()

    response = client.post("/accounts/email/", {"email": long_address(300), "action_add": ""})

    assert response.status_code == 200
    assert TOO_LONG in text(response)
    assert list(EmailAddress.objects.values_list("email", flat=True)) == ["nia@example.com"]
    assert Delivery.objects.count() == deliveries


def test_the_newsletter_form_refuses_an_address_over_254_characters(db, client):
    response = client.post(
        "/newsletter/", {"first_name": "Nia", "last_name": "", "email": long_address(300)}
    )

    assert response.status_code in (200, 400)
    assert "254" in text(response)
    assert not get_user_model().objects.exists()
    assert not Delivery.objects.exists()
