"""The newsletter form can't be turned against anyone: limits per address and per client, no
second confirmation to an address already subscribed or sent one, names that can't carry a
message, and confirmation links that work once."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.db import connection
from django.test import Client

from communications.kinds import MessageKind
from communications.models import Delivery
from communications.services import send_delivery
from consent.models import ConsentEvent, Purpose
from consent.selectors import consent_status
from consent.services import ConsentSource, current_policy_version, grant_consent
from consent.services.newsletter import SALT
from consent.tokens import TokenUse, make_token
from tests.factories import UserFactory
from tests.harness.http import text

NIA = {"first_name": "Nia", "last_name": "Jones", "email": "nia@example.com"}
CHECK_INBOX = "Check your inbox"
ALREADY = "Already confirmed"


pytestmark = pytest.mark.usefixtures("locmem_email")


def confirmations() -> list[Delivery]:
    return list(Delivery.objects.filter(kind=MessageKind.OPT_IN_CONFIRMATION).order_by("pk"))


def page(response) -> str:
    """The page as the visitor sees it, without the per-response CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", text(response))


def from_client(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip)


def confirmation_link(delivery: Delivery) -> str:
    """The link in the email as sent (the row forgets it once the email has gone)."""
    mail.outbox.clear()
    send_delivery(delivery_id=delivery.pk)
    [message] = mail.outbox
    return re.search(r"https://shop.example(/newsletter/confirm/[^/\s]+/)", message.body)[1]


def limit_keys() -> list[str]:
    from consent.models import NewsletterRequestLimit

    return list(NewsletterRequestLimit.objects.values_list("key", flat=True))


def newsletter_granted(user) -> bool:
    return consent_status(subject=user)["newsletter"].granted


# --- One confirmation per address ---------------------------------------------------------------


def test_a_burst_for_one_address_sends_one_email_and_every_page_is_the_same(db, relay_off):
    # given 25 requests for one address in a burst, from 25 different clients
    responses = [from_client(f"192.0.2.{n}").post("/newsletter/", NIA) for n in range(1, 26)]

    # then one email went, and nothing on any page tells the repeats from the first
    assert len(confirmations()) == 1
    assert {r.status_code for r in responses} == {200}
    assert {page(r) for r in responses} == {page(responses[0])}
    assert CHECK_INBOX in page(responses[0])


def test_variants_of_one_mailbox_share_its_limit(db, relay_off):
    client = from_client("192.0.2.1")
    for email in ("Nia.Jones@gmail.com", "niajones+x@gmail.com", "n.i.a.jones+y@googlemail.com"):
        client.post("/newsletter/", {**NIA, "email": email})
    client.post("/newsletter/", {**NIA, "email": "nia.jones@gmail.com"})

    assert [d.to_email for d in confirmations()] == ["nia.jones@gmail.com"]


def test_after_the_interval_the_address_can_be_sent_a_link_again(db, relay_off, settings):
    settings.NEWSLETTER_REQUEST_INTERVAL = 1
    client = from_client("192.0.2.1")
    client.post("/newsletter/", NIA)
    client.post("/newsletter/", NIA)
    assert len(confirmations()) == 1

    time.sleep(1.1)
    client.post("/newsletter/", NIA)

    assert len(confirmations()) == 2


def test_an_address_already_subscribed_gets_no_confirmation_and_the_same_page(db, relay_off):
    UserFactory(email="nia@example.com", password=None, consents=["newsletter"])
    new = from_client("192.0.2.1").post("/newsletter/", {**NIA, "email": "new@example.com"})

    subscribed = from_client("192.0.2.2").post("/newsletter/", {**NIA, "email": "NIA@example.com"})

    assert [d.to_email for d in confirmations()] == ["new@example.com"]
    assert subscribed.status_code == new.status_code == 200
    assert page(subscribed) == page(new)


def test_a_known_account_that_is_not_subscribed_is_sent_a_confirmation(db, relay_off):
    UserFactory(email="nia@example.com")

    from_client("192.0.2.1").post("/newsletter/", NIA)

    assert [d.to_email for d in confirmations()] == ["nia@example.com"]


def test_what_is_kept_of_a_request_is_a_keyed_hash_not_the_address(db, relay_off):
    from_client("192.0.2.77").post("/newsletter/", NIA)

    keys = limit_keys()
    assert len(keys) == 2  # one for the address, one for the client
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys)
    assert not get_user_model().objects.exists()
    assert not ConsentEvent.objects.exists()


def test_the_limits_hold_with_the_cache_down(db, relay_off, settings):
    # Redis is not where the limits live: with the cache unreachable nothing floods through
    # and nothing fails.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    responses = [from_client(f"192.0.2.{n}").post("/newsletter/", NIA) for n in range(1, 6)]

    assert {r.status_code for r in responses} == {200}
    assert len(confirmations()) == 1


# --- Per client ---------------------------------------------------------------------------------


def test_one_client_is_refused_after_its_limit_and_sends_nothing_more(db, relay_off, settings):
    settings.NEWSLETTER_REQUESTS_PER_CLIENT = 3
    client = from_client("198.51.100.7")

    answers = [
        client.post("/newsletter/", {**NIA, "email": f"person{n}@example.com"}) for n in range(25)
    ]

    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    assert {r.status_code for r in answers[3:]} == {429}
    assert "Too many requests" in text(answers[3])
    assert 0 < int(answers[3]["Retry-After"]) <= 3600
    assert len(confirmations()) == 3
    # another client is not held back by this one
    assert from_client("198.51.100.8").post("/newsletter/", NIA).status_code == 200
    assert len(confirmations()) == 4


def test_an_ipv6_client_is_limited_by_its_64_prefix(db, relay_off, settings):
    settings.NEWSLETTER_REQUESTS_PER_CLIENT = 2
    for host in range(1, 4):
        response = from_client(f"2001:db8:1:2::{host}").post(
            "/newsletter/", {**NIA, "email": f"person{host}@example.com"}
        )

    assert response.status_code == 429
    assert len(confirmations()) == 2


def test_behind_a_trusted_proxy_each_visitor_is_limited_not_the_proxy(db, relay_off, settings):
    settings.NEWSLETTER_REQUESTS_PER_CLIENT = 2
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.5"

    def via_proxy(visitor: str, n: int):
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=visitor).post(
            "/newsletter/", {**NIA, "email": f"{visitor}-{n}@example.com"}
        )

    assert [via_proxy("198.51.100.20", n).status_code for n in range(3)] == [200, 200, 429]
    # another visitor through the same proxy has an allowance of their own
    assert via_proxy("198.51.100.21", 0).status_code == 200


def test_an_invalid_form_does_not_count_against_the_client(db, relay_off, settings):
    settings.NEWSLETTER_REQUESTS_PER_CLIENT = 1
    client = from_client("198.51.100.7")
    for _ in range(3):
        assert client.post("/newsletter/", {**NIA, "email": "nope"}).status_code == 400

    assert client.post("/newsletter/", NIA).status_code == 200


# --- Names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Nia\nYOUR ACCOUNT IS LOCKED. Verify at http://evil.example/",
        "Nia\r\nBcc: someone@example.com",
        "Verify at http://evil.example",
        "evil.example",
        "<a href='https://evil.example'>Nia</a>",
        "Nia <b>",
        "Nia\tJones",
        "Nia 2",
        "N" * 51,
        "...",
    ],
)
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_name_that_could_carry_a_message_is_refused_and_nothing_is_sent(
    db, relay_off, field, name
):
    response = from_client("192.0.2.1").post("/newsletter/", {**NIA, field: name})

    assert response.status_code == 400
    assert "Please correct the errors below." in text(response)
    assert not Delivery.objects.exists()
    assert not limit_keys()


@pytest.mark.parametrize(
    "name", ["Nia", "Anne-Marie", "O'Brien", "D\u2019Arcy", "J. R. R.", "Zoë", "Łukasz", "李"]
)
def test_real_names_are_accepted(db, relay_off, name):
    response = from_client("192.0.2.1").post("/newsletter/", {**NIA, "first_name": name})

    assert response.status_code == 200
    assert len(confirmations()) == 1


def test_the_confirmation_email_does_not_repeat_the_name_typed_into_the_form(db, relay_off):
    from_client("192.0.2.1").post(
        "/newsletter/", {**NIA, "first_name": "Zebedee", "last_name": "Quist"}
    )
    [delivery] = confirmations()

    send_delivery(delivery_id=delivery.pk)

    [message] = mail.outbox
    html = message.alternatives[0][0] if message.alternatives else ""
    for part in (message.subject, message.body, html):
        assert "Zebedee" not in part and "Quist" not in part
    assert "Hello," in message.body


# --- A link works once --------------------------------------------------------------------------


def test_a_confirmation_link_replayed_after_withdrawing_everything_changes_nothing(db, relay_off):
    # given a confirmed subscription, then everything withdrawn in the preference centre
    browser = from_client("192.0.2.1")
    browser.post("/newsletter/", NIA)
    link = confirmation_link(confirmations()[0])
    assert "You're subscribed" in text(browser.post(link))
    subscriber = get_user_model().objects.get(email="nia@example.com")
    preferences = f"/preferences/{make_token(subject=subscriber, use=TokenUse.PREFERENCES)}/"
    browser.post(preferences, {"action": "withdraw_all"})
    assert not newsletter_granted(subscriber)
    events = ConsentEvent.objects.count()
    receipts = Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT).count()

    # when the same confirmation link is posted again
    replay = from_client("203.0.113.9").post(link)

    # then it says so and changes nothing
    assert replay.status_code == 410
    assert ALREADY in text(replay)
    assert "/preferences/" not in replay.content.decode()
    assert not newsletter_granted(subscriber)
    assert ConsentEvent.objects.count() == events
    assert Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT).count() == receipts


def test_a_used_link_shows_already_confirmed_without_a_button(db, relay_off):
    client = from_client("192.0.2.1")
    client.post("/newsletter/", NIA)
    link = confirmation_link(confirmations()[0])
    client.post(link)

    response = client.get(link)

    assert response.status_code == 410
    assert ALREADY in text(response)
    assert "Yes, subscribe me" not in text(response)


def test_confirming_twice_sends_one_receipt(db, relay_off):
    client = from_client("192.0.2.1")
    client.post("/newsletter/", NIA)
    link = confirmation_link(confirmations()[0])

    first, second = client.post(link), client.post(link)

    assert "You're subscribed" in text(first)
    assert ALREADY in text(second)
    assert ConsentEvent.objects.count() == 1
    assert Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT).count() == 1


def test_a_link_is_spent_by_a_later_decision_made_elsewhere(db, relay_off):
    customer = UserFactory(email="nia@example.com")
    from_client("192.0.2.1").post("/newsletter/", NIA)
    link = confirmation_link(confirmations()[0])
    # the customer subscribes and unsubscribes in the preference centre before clicking
    grant_consent(subject=customer, purpose="newsletter", source=ConsentSource.PREFERENCE_CENTRE)
    logged_in = Client()
    logged_in.force_login(customer)
    logged_in.post("/preferences/", {"action": "withdraw_all"})

    response = Client().post(link)

    assert ALREADY in text(response)
    assert not newsletter_granted(customer)


def test_after_confirming_and_withdrawing_a_new_request_is_sent_at_once(db, relay_off):
    client = from_client("192.0.2.1")
    client.post("/newsletter/", NIA)
    client.post(confirmation_link(confirmations()[0]))
    subscriber = get_user_model().objects.get()
    client.post(
        f"/preferences/{make_token(subject=subscriber, use=TokenUse.PREFERENCES)}/",
        {"action": "withdraw_all"},
    )

    client.post("/newsletter/", NIA)
    new_link = confirmation_link(confirmations()[1])
    response = client.post(new_link)

    assert "You're subscribed" in text(response)
    assert newsletter_granted(subscriber)


def _legacy_link(email: str) -> str:
    """A link as signed before links were single-use: no record of the state it was made in."""
    payload = {
        "e": email,
        "f": "Nia",
        "l": "",
        "v": current_policy_version().number,
        "w": Purpose.objects.get(code="newsletter").wording,
    }
    return f"/newsletter/confirm/{signing.dumps(payload, salt=SALT, compress=True)}/"


def test_a_link_made_before_links_were_single_use_works_once(db, relay_off):
    link = _legacy_link("nia@example.com")
    client = Client()

    assert "You're subscribed" in text(client.post(link))
    subscriber = get_user_model().objects.get()
    client.post(
        f"/preferences/{make_token(subject=subscriber, use=TokenUse.PREFERENCES)}/",
        {"action": "withdraw_all"},
    )

    assert ALREADY in text(client.post(link))
    assert not newsletter_granted(subscriber)


def test_a_name_in_an_old_link_that_is_not_a_name_is_not_stored(db, relay_off):
    payload = {
        "e": "nia@example.com",
        "f": "YOUR ACCOUNT IS LOCKED. Verify at http://evil.example",
        "l": "Jones",
        "v": current_policy_version().number,
        "w": Purpose.objects.get(code="newsletter").wording,
    }
    token = signing.dumps(payload, salt=SALT, compress=True)

    Client().post(f"/newsletter/confirm/{token}/")

    subscriber = get_user_model().objects.get()
    assert (subscriber.first_name, subscriber.last_name) == ("", "Jones")


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_subscribe_once(relay_off):
    Client(REMOTE_ADDR="192.0.2.1").post("/newsletter/", NIA)
    link = confirmation_link(confirmations()[0])
    barrier = threading.Barrier(2)
    pages: list[str] = []

    def click() -> None:
        try:
            barrier.wait()
            pages.append(text(Client().post(link)))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted("You're subscribed" in p for p in pages) == [False, True]
    assert any(ALREADY in p for p in pages)
    assert ConsentEvent.objects.count() == 1
    assert Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT).count() == 1
