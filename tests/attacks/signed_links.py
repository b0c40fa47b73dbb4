"""Every kind of signed link the site sends, described once: how a genuine one is made, what
following it does, how an expired one is made, and what a refused one answers.

``tests/attacks/test_signed_links.py`` runs each attack on each kind from this table, and
checks that the table names every signing salt and token generator in the product's code, so
a new kind of link is noticed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import Client

from communications.models import Suppression
from communications.services.policy_changes import publish_policy_change
from communications.views.newsletter import confirmation_url
from consent.models import ConsentEvent, CurrentConsent
from consent.provenance import Provenance
from consent.services import request_newsletter_subscription, save_policy_draft
from consent.tokens import TokenUse, make_token
from tests.factories import UserFactory
from tests.harness.http import made_days_ago

DAY = 24 * 3600
NEW_PASSWORD = "a brand new long passphrase"
NEW_USE = {"code": "partner_analytics", "name": "Shopping analysis", "wording": "We may ..."}
CONSENT_REFUSED = "This link is not valid or has expired"


@dataclass
class World:
    """Ann, whose links are attacked; Bob, whose links are used on Ann's; a use-change
    version of the policy, so the policy-choice link has a question to answer."""

    ann: object
    bob: object
    monkeypatch: pytest.MonkeyPatch


def world(monkeypatch: pytest.MonkeyPatch) -> World:
    ann = UserFactory(
        email="ann.attacked@example.com", verified=False, consents=["newsletter", "surveys"]
    )
    bob = UserFactory(email="bob.other@example.com", verified=False, consents=["newsletter"])
    officer = UserFactory(email="officer@jessops.example", is_staff=True)
    draft = save_policy_draft(
        actor=officer,
        change_type="use_change",
        text="Policy text, use change.",
        summary="A use change.",
        new_purposes=[NEW_USE],
    )
    publish_policy_change(draft=draft, actor=officer)
    return World(ann=ann, bob=bob, monkeypatch=monkeypatch)


@dataclass(frozen=True)
class LinkKind:
    name: str
    # The signing salts (or token generators) behind the link, as the code names them.
    signed_by: tuple[str, ...]
    # A genuine token for ``person`` and the path it goes in.
    token: Callable[[World, object], str]
    path: Callable[[str], str]
    # What following the link does: the request that changes something.
    follow: Callable[[Client, str], HttpResponse]
    # A token made longer ago than the link lives.
    expired: Callable[[World], str]
    # What a refused link answers, and the words on its page.
    refused: int
    says: str
    # True when the link grants something once (a replay is refused); False when it may be
    # followed again (the preference centre's stays the person's key to their choices) and
    # the same request again changes nothing.
    single_use: bool
    # The words on the page a used single-use link answers with.
    used_says: str = ""


def _consent_token(use: TokenUse, purpose: str = "*") -> Callable[[World, object], str]:
    return lambda w, person: make_token(subject=person, use=use, purpose=purpose)


def _consent_expired(use: TokenUse) -> Callable[[World], str]:
    return lambda w: made_days_ago(
        w.monkeypatch, 61, lambda: make_token(subject=w.ann, use=use, purpose="*")
    )


def _post(data: dict[str, str]) -> Callable[[Client, str], HttpResponse]:
    return lambda client, path: client.post(path, data)


def _newsletter_token(w: World, person: object) -> str:
    url = request_newsletter_subscription(
        email=f"new.{person.email}",
        first_name="Nia",
        last_name="",
        provenance=Provenance(ip_address="192.0.2.0", user_agent="pytest"),
        confirm_url=confirmation_url,
    )
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[1]


def _verification_key(w: World, person: object) -> str:
    return EmailConfirmationHMAC(EmailAddress.objects.get(user=person)).key


def _reset_key(w: World, person: object) -> str:
    return f"{user_pk_to_url_str(person)}-{default_token_generator.make_token(person)}"


def _reset_key_expired(w: World) -> str:
    long_ago = datetime.datetime.now() - datetime.timedelta(days=30)
    with w.monkeypatch.context() as patch:
        patch.setattr(type(default_token_generator), "_now", lambda self: long_ago)
        return _reset_key(w, w.ann)


def _choose_new_password(client: Client, path: str) -> HttpResponse:
    """allauth keeps the key in the session and sends the browser to a page without it."""
    response = client.get(path)
    if response.status_code != 302:
        return response
    form = response["Location"]
    return client.post(form, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


KINDS: list[LinkKind] = [
    LinkKind(
        name="preference centre",
        signed_by=("consent.token.preferences",),
        token=_consent_token(TokenUse.PREFERENCES),
        path=lambda token: f"/preferences/{token}/",
        # Every box unticked: every optional purpose withdrawn.
        follow=_post({}),
        expired=_consent_expired(TokenUse.PREFERENCES),
        refused=400,
        says=CONSENT_REFUSED,
        single_use=False,
    ),
    LinkKind(
        name="unsubscribe",
        signed_by=("consent.token.unsubscribe",),
        token=_consent_token(TokenUse.UNSUBSCRIBE),
        path=lambda token: f"/unsubscribe/{token}/",
        follow=_post({}),
        expired=_consent_expired(TokenUse.UNSUBSCRIBE),
        refused=400,
        says=CONSENT_REFUSED,
        single_use=False,
    ),
    LinkKind(
        name="one-click unsubscribe (RFC 8058)",
        signed_by=("consent.token.unsubscribe",),
        token=_consent_token(TokenUse.UNSUBSCRIBE),
        path=lambda token: f"/unsubscribe/{token}/",
        follow=_post({"List-Unsubscribe": "One-Click"}),
        expired=_consent_expired(TokenUse.UNSUBSCRIBE),
        refused=400,
        says=CONSENT_REFUSED,
        single_use=False,
    ),
    LinkKind(
        name="policy choice",
        signed_by=("consent.token.preferences",),
        token=_consent_token(TokenUse.PREFERENCES),
        path=lambda token: f"/privacy/choices/{token}/",
        follow=_post({f"purpose_{NEW_USE['code']}": "yes"}),
        expired=_consent_expired(TokenUse.PREFERENCES),
        refused=400,
        says=CONSENT_REFUSED,
        single_use=False,
    ),
    LinkKind(
        name="newsletter confirmation",
        signed_by=("consent.newsletter.confirm",),
        token=_newsletter_token,
        path=lambda token: f"/newsletter/confirm/{token}/",
        follow=_post({}),
        expired=lambda w: made_days_ago(w.monkeypatch, 8, lambda: _newsletter_token(w, w.ann)),
        refused=400,
        says=CONSENT_REFUSED,
        single_use=True,
        used_says="This confirmation link has already been used",
    ),
    LinkKind(
        name="email address verification",
        signed_by=("allauth: account",),
        token=_verification_key,
        path=lambda token: f"/accounts/confirm-email/{token}/",
        follow=_post({}),
        expired=lambda w: made_days_ago(w.monkeypatch, 30, lambda: _verification_key(w, w.ann)),
        refused=404,
        says="This confirmation link has expired or is not valid",
        single_use=True,
        used_says="This confirmation link has expired or is not valid",
    ),
    LinkKind(
        name="password reset",
        signed_by=("allauth: password reset token",),
        token=_reset_key,
        path=lambda token: f"/accounts/password/reset/key/{token}/",
        follow=_choose_new_password,
        expired=_reset_key_expired,
        refused=404,
        says="This link has expired or has already been used",
        single_use=True,
        used_says="This link has expired or has already been used",
    ),
]

# Signed values in the code that are no credential: what each is and why it is not in KINDS.
NOT_CREDENTIALS = {
    "communications.referral-link": (
        "the shop page a wishlist email's link goes on to; a tampered one goes to the home "
        "page (test_a_tampered_wishlist_target_goes_home_and_nowhere_else)"
    ),
    "consent.newsletter.limit": "keys of the newsletter sign-up limit (salted_hmac), never sent",
    "communications.unsubscribe-mailto": (
        "not a link: the code in the subject of List-Unsubscribe's mailto:, checked when an "
        "unsubscribe email arrives (forged, tampered and another delivery's code are refused "
        "in tests/communications/test_inbound_unsubscribe.py)"
    ),
    "staff_access.kept_session": "a staff session's key as kept in the database, never sent",
    "sharing.suppression": (
        "the seed of the draw of which aggregate-report figure is withheld (salted_hmac of the "
        "table), never sent"
    ),
}


def state() -> dict[str, list]:
    """Everything a link could change: the consent ledger and the choices in force, the
    accounts (address, password, active), the addresses' verification, suppressions."""
    return {
        "ledger": list(ConsentEvent.objects.order_by("pk").values_list("pk", flat=True)),
        "current": list(
            CurrentConsent.objects.order_by("subject_id", "purpose_id").values_list(
                "subject_id", "purpose_id", "granted", "event_id"
            )
        ),
        "users": list(
            get_user_model()
            .objects.order_by("pk")
            .values_list("pk", "email", "password", "is_active", "first_name", "last_name")
        ),
        "addresses": list(
            EmailAddress.objects.order_by("pk").values_list("pk", "email", "verified", "primary")
        ),
        "suppressions": list(Suppression.objects.order_by("pk").values_list()),
    }
