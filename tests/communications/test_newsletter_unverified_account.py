"""A newsletter confirmed for an address someone signed up with and never verified.

Someone signs up with an address (a typo, or someone else's): the account waits for its
verification link, and the gate holds marketing and service mail back. If the address's owner
then asks for the newsletter and follows the confirmation link sent to the address, that
click proves the mailbox theirs: the newsletter goes. It does not verify the account, so
whoever signed up still cannot log in. A subscriber held back this way who asks again is sent
the link even though the newsletter is ticked already, and following it records the proof.
"""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client

from communications.gate import gate_batch, may_send
from communications.kinds import MessageKind
from communications.models import Delivery
from consent.models import ConsentEvent
from consent.services import ConsentSource
from tests.accounts.test_signup import PASSWORD, logged_in, login, path_of, signup
from tests.communications.test_newsletter_abuse import confirmation_link, confirmations
from tests.harness.http import text

pytestmark = pytest.mark.usefixtures("clean_cache", "locmem_email")

Status = Delivery.Status
ADDRESS = "nia@example.com"


def ask_for_the_newsletter(owner: Client) -> None:
    response = owner.post("/newsletter/", {"first_name": "Nia", "email": ADDRESS})
    assert response.status_code == 200
    assert "Check your inbox" in text(response)


def newsletter_events(user) -> list[str]:
    return list(
        ConsentEvent.objects.filter(subject=user, purpose__code="newsletter")
        .order_by("pk")
        .values_list("source", flat=True)
    )


def test_the_owner_confirming_the_newsletter_lets_it_go_without_verifying_the_account(db):
    # given someone signed up with the address and never followed the verification link
    stranger = Client()
    signup(stranger, ADDRESS)
    user = get_user_model().objects.get(email=ADDRESS)
    assert may_send(MessageKind.NEWSLETTER, user).status == Status.SKIPPED_UNVERIFIED

    # when the address's owner asks for the newsletter and follows the link sent to it
    owner = Client()
    ask_for_the_newsletter(owner)
    [request] = confirmations()
    response = owner.post(confirmation_link(request))
    assert response.status_code == 200
    assert "You're subscribed" in text(response)

    # then the newsletter, and the service mail every account gets, go to the address
    assert newsletter_events(user) == [ConsentSource.NEWSLETTER_FORM]
    for kind in (MessageKind.NEWSLETTER, MessageKind.SERVICE_ANNOUNCEMENT):
        assert may_send(kind, user), kind
        assert gate_batch(kind, [user])[user.pk], kind
    # and the account is still unverified: the sign-up's password does not log in
    assert not EmailAddress.objects.get(user=user).verified
    refused = login(stranger, ADDRESS, PASSWORD)
    assert path_of(refused["Location"]) == "/accounts/confirm-email/"
    assert not logged_in(stranger)


def test_a_subscriber_held_back_is_sent_the_link_and_following_it_records_the_proof(db):
    # given a sign-up that ticked the newsletter, never verified
    signup(Client(), ADDRESS, "newsletter")
    user = get_user_model().objects.get(email=ADDRESS)
    assert newsletter_events(user) == [ConsentSource.SIGNUP_FORM]
    assert may_send(MessageKind.NEWSLETTER, user).status == Status.SKIPPED_UNVERIFIED

    # when the address's owner asks for the newsletter: the newsletter does not reach them,
    # so they are sent the confirmation link, as anyone not subscribed is
    owner = Client()
    ask_for_the_newsletter(owner)
    [request] = confirmations()
    link = confirmation_link(request)
    response = owner.post(link)

    # then following it records the newsletter again, from the newsletter form, and it goes
    assert response.status_code == 200
    assert newsletter_events(user) == [ConsentSource.SIGNUP_FORM, ConsentSource.NEWSLETTER_FORM]
    assert may_send(MessageKind.NEWSLETTER, user)
    # with a receipt for the confirmation, as for any other
    assert Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT, user=user).count() == 1
    # and the link works once
    assert owner.post(link).status_code == 410
    assert len(newsletter_events(user)) == 2


def test_a_verified_subscriber_is_still_sent_no_link(db, make_user):
    make_user(ADDRESS, consents=["newsletter"], verified=True)

    ask_for_the_newsletter(Client())

    assert confirmations() == []


def test_a_sign_up_with_another_address_is_held_back_whatever_the_newsletter_says(db):
    # given two sign-ups, never verified; the owner of one confirms the newsletter
    signup(Client(), ADDRESS)
    signup(Client(), "other@example.com")
    ask_for_the_newsletter(Client())
    Client().post(confirmation_link(confirmations()[0]))

    # then only that account's mail goes
    users = get_user_model().objects.order_by("email")
    decisions = gate_batch(MessageKind.SERVICE_ANNOUNCEMENT, list(users))
    assert {user.email: decisions[user.pk].status for user in users} == {
        ADDRESS: Status.QUEUED,
        "other@example.com": Status.SKIPPED_UNVERIFIED,
    }
