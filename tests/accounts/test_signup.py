"""Sign-up, verification and login through django-allauth: consent from the form, the welcome
email through the outbox, no account enumeration, rate limits, sessions ended on a password
change, and a newsletter subscriber claiming their record."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client

from communications.kinds import MessageKind
from communications.models import Delivery
from consent.models import ConsentEvent, CurrentConsent, PolicyVersion, Purpose
from consent.services import ConsentSource
from tests.factories import TEST_PASSWORD, NewsletterSubscriberFactory
from tests.harness.http import text

SIGNUP = "/accounts/signup/"
LOGIN = "/accounts/login/"
RESET = "/accounts/password/reset/"
PASSWORD = "correct horse battery staple 9"

pytestmark = pytest.mark.usefixtures("clean_cache")


def signup(client: Client, email: str, *ticked: str, password: str = PASSWORD):
    data = {
        "first_name": "Nia",
        "last_name": "Jones",
        "email": email,
        "password1": password,
        "password2": password,
    }
    data.update({f"purpose_{code}": "on" for code in ticked})
    return client.post(SIGNUP, data)


def login(client: Client, email: str, password: str = PASSWORD):
    return client.post(LOGIN, {"login": email, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def page_text(client: Client, response) -> str:
    """The page a redirect leads to, as its visitor sees it, without per-visitor tokens."""
    page = client.get(response["Location"])
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text(page))


def welcome_for(user) -> Delivery:
    return Delivery.objects.get(kind=MessageKind.WELCOME, user=user)


def path_of(url: str) -> str:
    return urlsplit(url).path


def verify(client: Client, verify_url: str):
    path = path_of(verify_url)
    page = client.get(path)
    assert page.status_code == 200 and "Confirm" in text(page)
    return client.post(path)


def test_the_form_shows_labelled_name_fields_and_every_purpose_unticked(db, client):
    page = client.get(SIGNUP)

    body = page.content.decode()
    for field in ("first_name", "last_name", "email", "password1", "password2"):
        assert f'for="id_{field}"' in body
    for purpose in Purpose.objects.filter(is_optional=True):
        assert f'<label for="id_purpose_{purpose.code}">{purpose.wording}</label>' in body
        assert f'name="purpose_{purpose.code}"' in body
    assert "checked" not in body


def test_sign_up_with_two_boxes_ticked_writes_the_user_two_ledger_rows_and_a_welcome(db, client):
    # when
    response = signup(client, "Nia@Example.com", Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS)

    # then the account exists, not logged in, with the name typed
    assert response.status_code == 302
    assert path_of(response["Location"]) == "/accounts/confirm-email/"
    assert not logged_in(client)
    user = get_user_model().objects.get(email="nia@example.com")
    assert (user.first_name, user.last_name) == ("Nia", "Jones")
    assert user.check_password(PASSWORD)
    # two ledger rows from the sign-up form, under the current policy version
    events = ConsentEvent.objects.filter(subject=user)
    assert {e.purpose.code for e in events} == {Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS}
    current = PolicyVersion.objects.order_by("-number").first()
    for event in events:
        assert event.granted and event.source == ConsentSource.SIGNUP_FORM
        assert event.policy_version == current
        assert event.wording == event.purpose.wording
    # one queued welcome email, through the outbox, carrying the verification link
    delivery = welcome_for(user)
    assert delivery.status == Delivery.Status.QUEUED
    assert delivery.to_email == "nia@example.com"
    assert "/accounts/confirm-email/" in delivery.context["verify_url"]
    assert Delivery.objects.filter(user=user).count() == 1


def test_unticked_boxes_write_nothing(db, client):
    signup(client, "nia@example.com")

    user = get_user_model().objects.get(email="nia@example.com")
    assert not ConsentEvent.objects.filter(subject=user).exists()
    assert not CurrentConsent.objects.filter(subject=user).exists()


def test_an_invalid_form_creates_nothing(db, client):
    response = signup(client, "nia@example.com", Purpose.NEWSLETTER, password="short")

    assert response.status_code == 200
    assert not get_user_model().objects.filter(email="nia@example.com").exists()
    assert not ConsentEvent.objects.exists() and not Delivery.objects.exists()


def test_login_is_refused_until_the_link_is_followed_then_works(db, client):
    # given a new account
    signup(client, "nia@example.com")
    user = get_user_model().objects.get(email="nia@example.com")

    # when they log in before verifying, they are sent to verify, not logged in
    response = login(client, "nia@example.com")
    assert response.status_code == 302
    assert path_of(response["Location"]) == "/accounts/confirm-email/"
    assert not logged_in(client)

    # when they follow the link in the welcome email
    confirmed = verify(client, welcome_for(user).context["verify_url"])
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(user=user).verified

    # then logging in works
    fresh = Client()
    response = login(fresh, "nia@example.com")
    assert response.status_code == 302 and path_of(response["Location"]) == "/"
    assert fresh.session["_auth_user_id"] == str(user.pk)


def test_sign_up_with_a_taken_address_looks_the_same_and_creates_nothing(db, client, make_user):
    # given a verified customer
    ann = make_user("ann@example.com", verified=True)

    # when someone signs up with their address (any case) and someone with a new address
    stranger, newcomer = Client(), Client()
    taken = signup(stranger, "ANN@example.com", Purpose.NEWSLETTER, password="another pass 12345")
    new = signup(newcomer, "bob@example.com", Purpose.NEWSLETTER)

    # then both see the same thing
    assert (taken.status_code, taken["Location"]) == (new.status_code, new["Location"])
    # (the message may echo the address the visitor typed; it says nothing about the account)
    assert page_text(stranger, taken).replace("ann@", "X@") == page_text(newcomer, new).replace(
        "bob@", "X@"
    )
    # and nothing is created or changed for Ann, who is told by email instead
    assert get_user_model().objects.filter(email__iexact="ann@example.com").count() == 1
    ann.refresh_from_db()
    assert ann.check_password(TEST_PASSWORD)
    assert not ConsentEvent.objects.filter(subject=ann).exists()
    assert not Delivery.objects.filter(user=ann, kind=MessageKind.WELCOME).exists()
    notice = Delivery.objects.get(user=ann)
    assert notice.kind == MessageKind.ACCOUNT_SECURITY
    assert "/accounts/password/reset/" in notice.context["body"]


def test_login_failure_says_the_same_for_known_and_unknown_addresses(db, client, make_user):
    make_user("ann@example.com")

    known = login(Client(), "ann@example.com", "wrong password 1")
    unknown = login(Client(), "nobody@example.com", "wrong password 1")

    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub("", text(known).replace("ann@", "X@")) == strip.sub(
        "", text(unknown).replace("nobody@", "X@")
    )


def test_password_reset_looks_the_same_for_known_and_unknown_addresses(db, make_user):
    ann = make_user("ann@example.com", verified=True)

    one, other = Client(), Client()
    known = one.post(RESET, {"email": "ann@example.com"})
    unknown = other.post(RESET, {"email": "nobody@example.com"})

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert page_text(one, known) == page_text(other, unknown)
    # the known address gets its link through the outbox; the unknown one gets nothing
    reset = Delivery.objects.get(user=ann)
    assert reset.kind == MessageKind.ACCOUNT_SECURITY
    assert "/accounts/password/reset/key/" in reset.context["body"]
    assert Delivery.objects.count() == 1


def test_the_reset_link_sets_a_new_password(db, make_user):
    ann = make_user("ann@example.com", verified=True)
    client = Client()
    client.post(RESET, {"email": "ann@example.com"})
    body = Delivery.objects.get(user=ann).context["body"]
    link = next(word for word in body.split() if "/password/reset/key/" in word)

    form = client.get(path_of(link), follow=True)
    response = client.post(
        form.redirect_chain[-1][0], {"password1": PASSWORD, "password2": PASSWORD}
    )

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.check_password(PASSWORD)


def test_a_password_change_ends_every_session(db, make_user):
    ann = make_user("ann@example.com", verified=True)
    here, elsewhere = Client(), Client()
    for client in (here, elsewhere):
        assert login(client, "ann@example.com", TEST_PASSWORD).status_code == 302
        assert logged_in(client)

    response = here.post(
        "/accounts/password/change/",
        {"oldpassword": TEST_PASSWORD, "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    assert not logged_in(here)
    assert elsewhere.get("/accounts/profile/").status_code == 302  # sent to log in
    assert Delivery.objects.filter(user=ann, kind=MessageKind.ACCOUNT_SECURITY).exists()


# --- A newsletter subscriber claiming their record ---------------------------------------------


@pytest.fixture
def subscriber(db):
    return NewsletterSubscriberFactory(email="sub@example.com")  # unusable password


def test_signing_up_with_a_subscribers_address_takes_nothing_over(subscriber):
    # when someone types the subscriber's address into the sign-up form
    response = signup(Client(), "sub@example.com", Purpose.SPECIAL_OFFERS)

    # then they see the usual "check your inbox" page, and the record is untouched
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert not subscriber.has_usable_password()
    assert subscriber.first_name == ""
    assert ConsentEvent.objects.filter(subject=subscriber).count() == 1
    assert login(Client(), "sub@example.com").status_code == 200  # refused
    # and the address gets a link to claim the record
    claim = Delivery.objects.get(user=subscriber, kind=MessageKind.ACCOUNT_SECURITY)
    assert claim.context["subject"] == "Finish creating your account"
    assert "/accounts/password/reset/key/" in claim.context["body"]


def test_the_subscriber_claims_their_record_through_the_emailed_link(subscriber):
    # given a sign-up with their address
    signup(Client(), "sub@example.com")
    body = Delivery.objects.get(user=subscriber).context["body"]
    link = next(word for word in body.split() if "/password/reset/key/" in word)

    # when the person reading that inbox follows the link and chooses a password
    client = Client()
    form = client.get(path_of(link), follow=True)
    client.post(form.redirect_chain[-1][0], {"password1": PASSWORD, "password2": PASSWORD})

    # then it is the same account, with its consent history, verified, and they can log in
    subscriber.refresh_from_db()
    assert subscriber.check_password(PASSWORD)
    assert EmailAddress.objects.get(user=subscriber).verified
    assert get_user_model().objects.filter(email="sub@example.com").count() == 1
    assert ConsentEvent.objects.filter(
        subject=subscriber, purpose__code=Purpose.NEWSLETTER
    ).exists()
    fresh = Client()
    assert login(fresh, "sub@example.com").status_code == 302
    assert fresh.session["_auth_user_id"] == str(subscriber.pk)


def test_an_email_change_takes_effect_only_once_the_new_address_is_verified(db, client):
    # given a verified, logged-in customer
    signup(client, "nia@example.com")
    user = get_user_model().objects.get(email="nia@example.com")
    verify(client, welcome_for(user).context["verify_url"])
    login(client, "nia@example.com")
    assert logged_in(client)

    # when they ask to change their address
    response = client.post("/accounts/email/", {"email": "nia.new@example.com", "action_add": ""})

    # then the old address stays in use until the new one is confirmed
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "nia@example.com"
    pending = EmailAddress.objects.get(email="nia.new@example.com")
    assert not pending.verified
    link_email = Delivery.objects.filter(
        user=user, kind=MessageKind.ACCOUNT_SECURITY, to_email="nia.new@example.com"
    ).get()
    url = re.search(r"https?://\S+/accounts/confirm-email/\S+", link_email.context["body"])
    assert url is not None

    # when the link sent to the new address is followed
    verify(client, url.group(0))

    # then the new address replaces the old one
    user.refresh_from_db()
    assert user.email == "nia.new@example.com"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified")) == [
        ("nia.new@example.com", True)
    ]
    # and the old address is told, in case the change was not its owner's
    [notice] = Delivery.objects.filter(
        user=user, kind=MessageKind.ACCOUNT_SECURITY, to_email="nia@example.com"
    )
    assert notice.status == Delivery.Status.QUEUED
    assert "nia.new@example.com" in notice.context["body"]
