"""Every signed link, attacked: tampered, expired, carrying a token of another kind or of
another person, and used again. Each is refused with a 4xx page that says what is wrong, and
changes nothing: the consent ledger, the choices in force, the accounts, their addresses'
verification and the suppression list are as they were."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, resolve

from communications.referrals.mail import tracked_url
from consent.selectors import consent_status
from consent.tokens import TokenUse
from tests.attacks.signed_links import KINDS, NOT_CREDENTIALS, LinkKind, state, world
from tests.harness.http import text

pytestmark = pytest.mark.django_db

BY_NAME = {kind.name: kind for kind in KINDS}


@pytest.fixture
def w(monkeypatch):
    return world(monkeypatch)


def flipped(token: str, at: int) -> str:
    """``token`` with the character at ``at`` changed (to another that could be there)."""
    old = token[at]
    new = "1" if old == "0" else "0"
    return token[:at] + new + token[at + 1 :]


def assert_refused(response, kind: LinkKind, says: str, before: dict) -> None:
    assert response.status_code == kind.refused, (kind.name, response.status_code)
    assert says in text(response), kind.name
    assert state() == before, kind.name


kinds = pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])


@kinds
def test_a_genuine_link_does_what_it_says(w, kind):
    """The control: the same request with the genuine token changes something, so the
    refusals below are refusals of a request that would otherwise work."""
    before = state()

    response = kind.follow(Client(), kind.path(kind.token(w, w.ann)))

    assert response.status_code < 400, (kind.name, response.status_code)
    assert state() != before, kind.name


@kinds
@pytest.mark.parametrize("where", ["signature", "payload"])
def test_a_tampered_link_is_refused_and_changes_nothing(w, kind, where):
    token = kind.token(w, w.ann)
    tampered = flipped(token, len(token) - 1 if where == "signature" else 1)
    path = kind.path(tampered)
    before = state()

    assert_refused(Client().get(path), kind, kind.says, before)
    assert_refused(kind.follow(Client(), path), kind, kind.says, before)


@kinds
def test_an_expired_link_is_refused_and_changes_nothing(w, kind):
    path = kind.path(kind.expired(w))
    before = state()

    assert_refused(Client().get(path), kind, kind.says, before)
    assert_refused(kind.follow(Client(), path), kind, kind.says, before)


FOREIGN = [
    (kind, other)
    for kind in KINDS
    for other in KINDS
    if not set(kind.signed_by) & set(other.signed_by)
]


@pytest.mark.parametrize(
    ("kind", "other"), FOREIGN, ids=[f"{o.name} on {k.name}" for k, o in FOREIGN]
)
def test_a_token_of_another_kind_is_refused_and_changes_nothing(w, kind, other):
    path = kind.path(other.token(w, w.ann))
    before = state()

    response = kind.follow(Client(), path)

    try:
        resolve(path)
    except Resolver404:
        # A token in characters this link's address never takes: the site's own 404 page.
        assert response.status_code == 404
        assert "Page not found" in text(response)
        assert "Nothing has been changed" in text(response)
    else:
        assert response.status_code == kind.refused, (response.status_code, path)
        assert kind.says in text(response)
    assert state() == before


def test_another_persons_key_on_a_password_reset_link_is_refused(w):
    kind = BY_NAME["password reset"]
    anns = kind.token(w, w.ann)
    bobs = kind.token(w, w.bob)
    # Bob's account in the link, Ann's key: neither account may be taken over.
    mixed = bobs.split("-", 1)[0] + "-" + anns.split("-", 1)[1]
    before = state()

    assert_refused(kind.follow(Client(), kind.path(mixed)), kind, kind.says, before)


def test_a_link_for_one_person_opened_by_another_logged_in_acts_only_for_its_own(w):
    """Bob, logged in, follows Ann's unsubscribe link: Ann's newsletter stops, Bob's stays."""
    kind = BY_NAME["unsubscribe"]
    bob = Client()
    bob.force_login(w.bob)

    kind.follow(bob, kind.path(kind.token(w, w.ann)))

    assert not consent_status(subject=w.ann)["newsletter"].granted
    assert consent_status(subject=w.bob)["newsletter"].granted


@kinds
def test_a_link_used_again_changes_nothing(w, kind):
    path = kind.path(kind.token(w, w.ann))
    assert kind.follow(Client(), path).status_code < 400
    before = state()

    again = kind.follow(Client(), path)

    assert state() == before
    if kind.single_use:
        assert 400 <= again.status_code < 500, (kind.name, again.status_code)
        assert kind.used_says in text(again)
        opened = Client().get(path)
        assert 400 <= opened.status_code < 500, (kind.name, opened.status_code)
        assert kind.used_says in text(opened)
    else:
        assert again.status_code < 400


# --- Every kind is in the table ---------------------------------------------------------------

PRODUCT = [
    Path(settings.BASE_DIR) / app
    for app in (
        "accounts",
        "api_keys",
        "communications",
        "consent",
        "privacy_site",
        "retention",
        "sharing",
        "staff_access",
        "surveys",
    )
]
SALT_CONSTANT = re.compile(r"^\s*_?[A-Z_]*SALT\s*=\s*\"([^\"]+)\"", re.MULTILINE)
SALT_ARGUMENT = re.compile(r"(?:salt=|salted_hmac\(\s*)\"([^\"]+)\"")
SIGNING_CALL = re.compile(
    r"signing\.(?:dumps|loads|Signer|TimestampSigner)|salted_hmac|token_generator|"
    r"EmailConfirmation|PasswordResetTokenGenerator"
)
# The modules that sign or check a link, and the kinds (or non-credentials) they serve.
SIGNING_MODULES = {
    "consent/tokens.py": {"consent.token.preferences", "consent.token.unsubscribe"},
    "consent/services/newsletter.py": {"consent.newsletter.confirm", "consent.newsletter.limit"},
    "communications/referrals/mail.py": {"communications.referral-link"},
    # The password a newsletter-only subscriber sets comes by a password-reset link.
    "accounts/adapter.py": {"allauth: password reset token"},
    "staff_access/sessions.py": {"staff_access.kept_session"},
    "sharing/report_figures.py": {"sharing.suppression"},
    "communications/rendering.py": {"communications.unsubscribe-mailto"},
}


def _sources():
    for folder in PRODUCT:
        for path in folder.rglob("*.py"):
            if "migrations" not in path.parts:
                yield path.relative_to(settings.BASE_DIR).as_posix(), path.read_text()


def test_every_signing_salt_in_the_code_is_attacked_here_or_said_to_be_no_credential():
    found = {f"consent.token.{use}" for use in TokenUse}
    for _, source in _sources():
        found |= set(SALT_CONSTANT.findall(source)) | set(SALT_ARGUMENT.findall(source))
    covered = {salt for kind in KINDS for salt in kind.signed_by if "." in salt}

    assert found == covered | set(NOT_CREDENTIALS)


def test_every_module_that_signs_or_checks_a_link_is_known():
    signing = {name for name, source in _sources() if SIGNING_CALL.search(source)}

    assert signing == set(SIGNING_MODULES)
    named = set().union(*SIGNING_MODULES.values())
    assert named == {salt for kind in KINDS for salt in kind.signed_by} - {
        "allauth: account"
    } | set(NOT_CREDENTIALS)


def test_a_tampered_wishlist_target_goes_home_and_nowhere_else(w):
    genuine = tracked_url("abc", "https://shop.jessops.example/p/1")
    signed = genuine.split("?to=", 1)[1]
    forged = signed.replace("shop.jessops.example", "evil.example")

    response = Client().get(f"/wishlist/from/abc/?to={forged}")

    assert response.status_code == 302
    assert response["Location"] == "/"
