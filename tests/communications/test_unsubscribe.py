"""Unsubscribe links: GET asks, POST unsubscribes (one-click too), bad links change nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from consent.models import ConsentEvent
from consent.selectors import consent_status
from consent.services import ConsentSource
from consent.tokens import ALL_PURPOSES, TokenUse, make_token
from tests.factories import UserFactory
from tests.harness.http import made_days_ago, text

DAY = 24 * 3600
INVALID = "This link is not valid or has expired"


def granted(user) -> set[str]:
    return {code for code, state in consent_status(subject=user).items() if state.granted}


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com", consents=["newsletter", "special_offers", "surveys"])


def link(user, purpose: str = "newsletter", use: TokenUse = TokenUse.UNSUBSCRIBE) -> str:
    return f"/unsubscribe/{make_token(subject=user, use=use, purpose=purpose)}/"


# --- GET asks ----------------------------------------------------------------------------------


def test_the_link_shows_what_will_be_unsubscribed_and_a_button(client, alice):
    response = client.get(link(alice))

    assert response.status_code == 200
    page = text(response)
    assert "stop receiving <strong>Newsletter</strong> emails" in page
    assert '<form method="post"' in page
    assert '<button type="submit" class="button">Unsubscribe</button>' in page


def test_a_link_for_all_purposes_says_all_marketing_emails(client, alice):
    response = client.get(link(alice, ALL_PURPOSES))

    assert "<strong>all marketing emails</strong>" in text(response)


def test_opening_the_link_changes_nothing(client, alice):
    before = ConsentEvent.objects.count()

    client.get(link(alice))
    client.get(link(alice, ALL_PURPOSES))
    assert client.head(link(alice)).status_code == 200

    assert ConsentEvent.objects.count() == before
    assert "newsletter" in granted(alice)


# --- POST unsubscribes -------------------------------------------------------------------------


def test_the_button_withdraws_the_purpose_from_the_link(client, alice):
    response = client.post(link(alice), REMOTE_ADDR="198.51.100.23")

    assert response.status_code == 200
    assert "You are unsubscribed" in text(response)
    assert granted(alice) == {"special_offers", "surveys", "service_announcements"}
    event = ConsentEvent.objects.filter(subject=alice).first()  # newest first
    assert (event.purpose.code, event.granted, event.source) == (
        "newsletter",
        False,
        ConsentSource.UNSUBSCRIBE_LINK,
    )
    assert event.ip_address == "198.51.100.0"


def test_the_confirmation_links_to_the_preference_centre_without_login(client, alice):
    response = client.post(link(alice))

    [preferences] = [
        href for href in response.content.decode().split('"') if href.startswith("/preferences/")
    ]
    assert preferences != "/preferences/"
    assert client.get(preferences).status_code == 200


def test_a_link_for_all_purposes_withdraws_all_marketing(client, alice):
    client.post(link(alice, ALL_PURPOSES))

    assert granted(alice) == {"service_announcements"}
    withdrawn = ConsentEvent.objects.filter(subject=alice, granted=False)
    assert withdrawn.count() == 3
    assert {event.source for event in withdrawn} == {ConsentSource.UNSUBSCRIBE_LINK}


def test_unsubscribing_again_is_harmless(client, alice):
    client.post(link(alice))
    count = ConsentEvent.objects.count()

    response = client.post(link(alice))

    assert response.status_code == 200
    assert "You are unsubscribed" in text(response)
    assert ConsentEvent.objects.count() == count


def test_rfc_8058_one_click_works_without_cookies_or_csrf_token(alice):
    mail_provider = Client(enforce_csrf_checks=True)

    response = mail_provider.post(
        link(alice),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert "newsletter" not in granted(alice)
    assert ConsentEvent.objects.filter(subject=alice).first().source == ConsentSource.ONE_CLICK


def test_one_click_again_still_returns_200(alice):
    mail_provider = Client(enforce_csrf_checks=True)
    url = link(alice, ALL_PURPOSES)
    body = "List-Unsubscribe=One-Click"
    mail_provider.post(url, body, content_type="application/x-www-form-urlencoded")
    count = ConsentEvent.objects.count()

    response = mail_provider.post(url, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert ConsentEvent.objects.count() == count


def test_the_browser_button_works_with_csrf_checks_on(alice):
    browser = Client(enforce_csrf_checks=True)
    url = link(alice)
    browser.get(url)

    response = browser.post(url)

    assert response.status_code == 200
    assert (
        ConsentEvent.objects.filter(subject=alice).first().source == ConsentSource.UNSUBSCRIBE_LINK
    )


def test_other_methods_are_not_allowed(client, alice):
    assert client.put(link(alice)).status_code == 405
    assert "newsletter" in granted(alice)


def test_a_link_for_one_person_never_unsubscribes_another(client, alice, make_user):
    bob = make_user("bob@example.com", consents=["newsletter"])
    client.force_login(bob)

    client.post(link(alice, ALL_PURPOSES))

    assert "newsletter" in granted(bob)
    assert ConsentEvent.objects.filter(subject=bob).count() == 1


# --- Bad links ---------------------------------------------------------------------------------


def assert_refused(response, status: int, alice, before: int) -> None:
    assert response.status_code == status
    page = text(response)
    assert INVALID in page
    assert 'href="/accounts/login/?next=/preferences/"' in page
    assert ConsentEvent.objects.count() == before
    assert "newsletter" in granted(alice)


def test_a_tampered_link_is_refused_with_400_and_logged(client, alice, caplog):
    before = ConsentEvent.objects.count()
    token = make_token(subject=alice, use=TokenUse.UNSUBSCRIBE, purpose="newsletter")

    response = client.post(f"/unsubscribe/{token[:-3]}abc/")

    assert_refused(response, 400, alice, before)
    assert any(
        r.name == "consent.tokens" and r.levelname == "WARNING" and "bad signature" in r.message
        for r in caplog.records
    )


def test_a_tampered_link_refuses_one_click_too(alice):
    before = ConsentEvent.objects.count()
    token = make_token(subject=alice, use=TokenUse.UNSUBSCRIBE)

    response = Client(enforce_csrf_checks=True).post(
        f"/unsubscribe/x{token}/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert_refused(response, 400, alice, before)


def test_an_expired_link_is_refused_with_400_and_logged(client, alice, monkeypatch, caplog):
    before = ConsentEvent.objects.count()
    url = made_days_ago(monkeypatch, 61, lambda: link(alice))

    response = client.post(url)

    assert_refused(response, 400, alice, before)
    assert "consent token refused (expired)" in caplog.text


def test_a_29_day_old_link_still_unsubscribes(client, alice, monkeypatch):
    url = made_days_ago(monkeypatch, 29, lambda: link(alice))

    response = client.post(url)

    assert response.status_code == 200
    assert "newsletter" not in granted(alice)


def test_a_preference_link_cannot_unsubscribe(client, alice, caplog):
    before = ConsentEvent.objects.count()

    response = client.post(link(alice, ALL_PURPOSES, use=TokenUse.PREFERENCES))

    assert_refused(response, 400, alice, before)
    assert "consent token refused" in caplog.text


def test_a_link_whose_person_is_gone_is_refused_with_404(client, alice, caplog):
    gone = UserFactory(email="gone@example.com")
    url = link(gone)
    gone.delete()
    before = ConsentEvent.objects.count()

    response = client.post(url)

    assert_refused(response, 404, alice, before)
    assert "subject unknown" in caplog.text


def test_a_link_sent_to_an_old_address_is_refused_with_404(client, alice, caplog):
    url = link(alice)
    alice.email = "alice.moved@example.com"
    alice.save(update_fields=["email"])
    before = ConsentEvent.objects.count()

    response = client.post(url)

    assert_refused(response, 404, alice, before)
    assert "address changed" in caplog.text


def test_a_link_for_a_mandatory_purpose_is_refused_and_logged(client, alice, caplog):
    before = ConsentEvent.objects.count()

    response = client.post(link(alice, "service_announcements"))

    assert_refused(response, 400, alice, before)
    assert "'service_announcements' is not an optional purpose" in caplog.text
