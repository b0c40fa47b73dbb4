"""Signing up again with the address of an erased account: the address is on the
do-not-email list, so no confirmation will arrive. The pages promise no email, point to
Customer Support, and read exactly as they do for an address never seen before."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from accounts.services.privacy import erase_account, request_erasure
from communications.models import Delivery
from tests.factories import TEST_PASSWORD
from tests.harness.http import text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]


def sign_up(email: str):
    form = {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": email,
        "password1": TEST_PASSWORD,
        "password2": TEST_PASSWORD,
    }
    return Client().post("/accounts/signup/", form, follow=True)


def page(response, email: str) -> str:
    """The page with the typed address and the CSRF token taken out."""
    body = text(response).replace(email, "ADDRESS")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)


@pytest.fixture
def erased_address(make_user) -> str:
    ann = make_user("ann@example.com", first_name="Ann")
    EmailAddress.objects.create(user=ann, email=ann.email, verified=True, primary=True)
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)
    return "ann@example.com"


def test_signing_up_with_an_erased_address_promises_no_email(erased_address):
    response = sign_up(erased_address)

    body = text(response)
    assert "Check your inbox" in body
    assert "Confirmation email sent" not in body
    assert "We have sent an email" not in body
    assert (
        f"If {erased_address} can receive our emails, a link to confirm it is on its way." in body
    )
    assert "If you still don't receive an email, contact Customer Support." in body
    # and indeed nothing will go
    assert not Delivery.objects.filter(
        to_email__iexact=erased_address, status=Delivery.Status.QUEUED
    ).exists()


def test_the_page_reads_the_same_for_an_erased_address_and_a_new_one(erased_address):
    erased = page(sign_up(erased_address), erased_address)
    new = page(sign_up("someone.new@example.com"), "someone.new@example.com")

    assert erased == new
