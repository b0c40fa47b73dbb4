"""Newsletter sign-up without an account: double opt-in, nothing stored until confirmed."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from communications.views.newsletter import confirmation_url
from consent.models import ConsentEvent, Purpose
from consent.provenance import Provenance
from consent.selectors import consent_status
from consent.services import (
    ConsentSource,
    request_newsletter_subscription,
)
from tests.factories import PolicyVersionFactory, UserFactory
from tests.harness.http import made_days_ago, text

DAY = 24 * 3600
INVALID = "This link is not valid or has expired"
WEB = Provenance(ip_address="192.0.2.0", user_agent="pytest")


def without_csrf_tokens(response) -> str:
    """The page as the visitor sees it; CSRF tokens differ on every response anyway."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def ask(
    email: str = "new.reader@example.com", *, first_name: str = "Nia", last_name: str = ""
) -> str:
    """The path of the confirmation link the service makes for ``email``."""
    url = request_newsletter_subscription(
        email=email,
        first_name=first_name,
        last_name=last_name,
        provenance=WEB,
        confirm_url=confirmation_url,
    )
    return urlsplit(url).path


def nothing_stored() -> bool:
    return not get_user_model().objects.exists() and not ConsentEvent.objects.exists()


def newsletter_granted(user) -> bool:
    return consent_status(subject=user)["newsletter"].granted


# --- The sign-up page --------------------------------------------------------------------------


def test_the_sign_up_page_has_a_labelled_field_for_each_detail(client, db):
    response = client.get("/newsletter/")

    assert response.status_code == 200
    html = response.content.decode()
    for field in ("first_name", "last_name", "email"):
        assert f'<label for="id_{field}">' in html
        assert f'id="id_{field}"' in html
    assert Purpose.objects.get(code="newsletter").wording in html


def test_signing_up_says_check_your_inbox_and_stores_nothing(client, db):
    response = client.post(
        "/newsletter/", {"first_name": "Nia", "last_name": "", "email": "nia@example.com"}
    )

    assert response.status_code == 200
    assert "Check your inbox" in text(response)
    assert nothing_stored()


def test_the_answer_is_the_same_whether_or_not_the_address_is_known(db):
    UserFactory(email="known@example.com")

    known = Client().post("/newsletter/", {"first_name": "K", "email": "KNOWN@example.com"})
    unknown = Client().post("/newsletter/", {"first_name": "K", "email": "unknown@example.com"})

    assert known.status_code == unknown.status_code == 200
    assert without_csrf_tokens(known) == without_csrf_tokens(unknown)
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"first_name": "", "email": "nia@example.com"}, "Enter your first name."),
        ({"first_name": "Nia", "email": ""}, "Enter your email address."),
        ({"first_name": "Nia", "email": "not an address"}, "Enter an email address like"),
        ({"first_name": "Nia" * 17, "email": "nia@example.com"}, "at most 50 characters"),
        ({"first_name": "Nia", "last_name": "J" * 51, "email": "n@example.com"}, "at most 50"),
    ],
)
def test_invalid_details_show_the_form_again_with_errors_and_store_nothing(
    client, db, data, error, caplog
):
    caplog.set_level(logging.INFO, logger="consent.services.newsletter")

    response = client.post("/newsletter/", data)

    assert response.status_code == 400
    assert error in text(response)
    assert '<form method="post" action="/newsletter/"' in text(response)
    assert nothing_stored()
    assert "confirmation link made" not in caplog.text


# --- Confirming --------------------------------------------------------------------------------


def test_opening_the_confirmation_link_shows_a_button_and_changes_nothing(client, db):
    path = ask("nia@example.com")

    response = client.get(path)

    assert response.status_code == 200
    assert "nia@example.com" in text(response)
    assert '<button type="submit" class="button">Yes, subscribe me</button>' in text(response)
    assert client.head(path).status_code == 200
    assert nothing_stored()


def test_confirming_creates_a_subscriber_and_records_the_consent(client, db):
    path = ask("Nia.Jones@Example.com", first_name="Nia", last_name="Jones")

    response = client.post(path, REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Mail app")

    assert response.status_code == 200
    assert "You're subscribed" in text(response)
    subscriber = get_user_model().objects.get()
    assert (subscriber.email, subscriber.first_name, subscriber.last_name) == (
        "nia.jones@example.com",
        "Nia",
        "Jones",
    )
    assert not subscriber.has_usable_password()
    event = ConsentEvent.objects.get()
    assert (event.subject, event.purpose.code, event.granted) == (subscriber, "newsletter", True)
    assert event.source == ConsentSource.NEWSLETTER_FORM
    assert event.wording == Purpose.objects.get(code="newsletter").wording
    assert event.policy_version.number == 1
    assert (event.ip_address, event.user_agent) == ("203.0.113.0", "Mail app")


def test_the_subscribed_page_links_to_the_preference_centre(client, db):
    response = client.post(ask())

    [preferences] = [
        part for part in response.content.decode().split('"') if part.startswith("/preferences/")
    ]
    assert preferences != "/preferences/"
    page = client.get(preferences)
    assert page.status_code == 200
    assert "new.reader@example.com" in text(page)


def test_confirming_works_from_a_browser_with_csrf_checks(db):
    browser = Client(enforce_csrf_checks=True)
    path = ask()
    browser.get(path)

    response = browser.post(path, {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value})

    assert response.status_code == 200
    assert newsletter_granted(get_user_model().objects.get())


def test_confirming_twice_duplicates_nothing(client, db):
    path = ask()

    client.post(path)
    response = client.post(path)

    assert response.status_code == 410
    assert get_user_model().objects.count() == 1
    assert ConsentEvent.objects.count() == 1


def test_an_existing_account_is_found_whatever_the_case_of_the_address(client, db):
    customer = UserFactory(email="nia@example.com", first_name="Nia")

    client.post(ask("NIA@EXAMPLE.COM", first_name="Someone", last_name="Else"))

    assert get_user_model().objects.count() == 1
    customer.refresh_from_db()
    assert customer.first_name == "Nia"
    assert customer.has_usable_password()
    assert newsletter_granted(customer)


# --- Bad confirmation links --------------------------------------------------------------------


def test_a_tampered_confirmation_link_is_refused_and_logged(client, db, caplog):
    path = ask()

    response = client.post(path[:-4] + "abc/")

    assert response.status_code == 400
    assert INVALID in text(response)
    assert nothing_stored()
    assert any(
        r.levelname == "WARNING" and "bad signature" in r.getMessage() for r in caplog.records
    )


def test_an_expired_confirmation_link_is_refused(client, db, settings, monkeypatch):
    settings.NEWSLETTER_CONFIRMATION_MAX_AGE = 7 * DAY
    path = made_days_ago(monkeypatch, 8, ask)

    assert client.get(path).status_code == 400
    response = client.post(path)

    assert response.status_code == 400
    assert INVALID in text(response)
    assert nothing_stored()


def test_a_six_day_old_confirmation_link_still_works(client, db, settings, monkeypatch):
    settings.NEWSLETTER_CONFIRMATION_MAX_AGE = 7 * DAY
    path = made_days_ago(monkeypatch, 6, ask)

    assert client.post(path).status_code == 200
    assert ConsentEvent.objects.count() == 1


def test_a_link_made_under_an_earlier_policy_version_is_refused(client, db, caplog):
    path = ask()
    PolicyVersionFactory(change_type="use_change")

    response = client.post(path)

    assert response.status_code == 400
    assert nothing_stored()
    assert "policy version changed" in caplog.text
