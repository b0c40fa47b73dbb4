"""Signed preference and unsubscribe links: who they act for, for how long, for what."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import signing

from consent.tokens import ALL_PURPOSES, TokenError, TokenUse, make_token, max_age, read_token
from tests.harness.http import made_days_ago

DAY = 24 * 3600


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice@example.com")


def test_a_token_names_its_subject_and_purpose(alice):
    token = make_token(subject=alice, use=TokenUse.UNSUBSCRIBE, purpose="newsletter")

    claim = read_token(token, use=TokenUse.UNSUBSCRIBE)

    assert claim.subject == alice
    assert claim.purpose == "newsletter"


def test_a_token_covers_all_purposes_unless_told_otherwise(alice):
    token = make_token(subject=alice, use=TokenUse.PREFERENCES)

    assert read_token(token, use=TokenUse.PREFERENCES).purpose == ALL_PURPOSES


@pytest.mark.parametrize(
    ("made_for", "used_for"),
    [
        (TokenUse.PREFERENCES, TokenUse.UNSUBSCRIBE),
        (TokenUse.UNSUBSCRIBE, TokenUse.PREFERENCES),
    ],
)
def test_a_token_made_for_one_use_is_refused_for_the_other(alice, made_for, used_for, caplog):
    token = make_token(subject=alice, use=made_for)

    with pytest.raises(TokenError) as refused:
        read_token(token, use=used_for)

    assert refused.value.reason == "bad signature"
    assert "consent token refused (bad signature)" in caplog.text


def test_a_tampered_token_is_refused_and_logged(alice, caplog):
    token = make_token(subject=alice, use=TokenUse.UNSUBSCRIBE)
    head, _, signature = token.rpartition(":")

    with pytest.raises(TokenError):
        read_token(f"{head}:{signature[::-1]}", use=TokenUse.UNSUBSCRIBE)

    [record] = [r for r in caplog.records if r.name == "consent.tokens"]
    assert record.levelname == "WARNING"


def test_a_token_for_another_subject_cannot_be_forged_without_the_secret_key(alice):
    bob = get_user_model().objects.create_user("bob@example.com")
    # the attacker knows exactly what Bob's token says, but not our secret key
    genuine = make_token(subject=bob, use=TokenUse.UNSUBSCRIBE)
    payload = signing.loads(genuine, salt="consent.token.unsubscribe")
    forged = signing.dumps(
        payload, key="an attacker's key", salt="consent.token.unsubscribe", compress=True
    )

    with pytest.raises(TokenError):
        read_token(forged, use=TokenUse.UNSUBSCRIBE)


def test_a_token_is_still_valid_after_29_days(alice, monkeypatch):
    token = made_days_ago(
        monkeypatch, 29, lambda: make_token(subject=alice, use=TokenUse.UNSUBSCRIBE)
    )

    assert read_token(token, use=TokenUse.UNSUBSCRIBE).subject == alice


def test_a_token_expires_after_the_configured_lifetime(alice, monkeypatch, caplog):
    token = made_days_ago(
        monkeypatch, 61, lambda: make_token(subject=alice, use=TokenUse.UNSUBSCRIBE)
    )

    with pytest.raises(TokenError) as refused:
        read_token(token, use=TokenUse.UNSUBSCRIBE)

    assert refused.value.reason == "expired"
    assert "consent token refused (expired)" in caplog.text


def test_the_lifetime_is_never_shorter_than_30_days(alice, monkeypatch, settings):
    settings.CONSENT_TOKEN_MAX_AGE = 60
    token = made_days_ago(
        monkeypatch, 29, lambda: make_token(subject=alice, use=TokenUse.PREFERENCES)
    )

    assert max_age() == 30 * DAY
    assert read_token(token, use=TokenUse.PREFERENCES).subject == alice


def test_a_token_stops_working_when_the_address_changes(alice):
    token = make_token(subject=alice, use=TokenUse.PREFERENCES)
    alice.email = "alice.new@example.com"
    alice.save(update_fields=["email"])

    with pytest.raises(TokenError) as refused:
        read_token(token, use=TokenUse.PREFERENCES)

    assert refused.value.reason == "subject unknown or address changed"


def test_a_token_for_a_deleted_subject_is_refused(alice):
    token = make_token(subject=alice, use=TokenUse.PREFERENCES)
    alice.delete()

    with pytest.raises(TokenError) as refused:
        read_token(token, use=TokenUse.PREFERENCES)

    assert refused.value.reason == "subject unknown or address changed"


def test_a_token_that_is_not_a_token_is_refused(db):
    with pytest.raises(TokenError):
        read_token("not-a-token", use=TokenUse.PREFERENCES)


@pytest.mark.parametrize("use", list(TokenUse))
def test_a_token_is_what_djangos_signing_makes_and_still_reads_after_the_key_changes(
    alice, use, settings
):
    """``make_token`` signs without deriving the key for every token; the token is the one
    ``signing.dumps`` makes, and it follows a new SECRET_KEY."""
    payload = {"s": alice.pk, "p": "newsletter", "e": mock.ANY, "r": "42"}
    with mock.patch("time.time", return_value=1_800_000_000.5):
        ours = make_token(subject=alice, use=use, purpose="newsletter", ref="42")
        expected = signing.dumps(
            signing.loads(ours, salt=f"consent.token.{use}"), salt=f"consent.token.{use}"
        )
    assert ours == expected
    assert signing.loads(ours, salt=f"consent.token.{use}") == payload
    settings.SECRET_KEY = "another secret key, long enough for the checks" * 2
    assert read_token(make_token(subject=alice, use=use), use=use).subject == alice
