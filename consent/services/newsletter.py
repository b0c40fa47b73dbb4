"""Newsletter sign-up without an account, with double opt-in.

Asking writes nothing: the request lives only in a signed confirmation link that carries the
address, the names, the policy version and the exact words the person was shown. Only the
click on that link (a POST from the confirmation page) creates the subscriber and records the
consent, so an address typed by someone else never ends up in the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from consent.models import ConsentEvent, Purpose
from consent.provenance import Provenance
from consent.services.ledger import Source, current_policy_version, grant_consent
from consent.tokens import TokenError

logger = logging.getLogger(__name__)

SALT = "consent.newsletter.confirm"


@dataclass(frozen=True)
class NewsletterRequest:
    """What a confirmation link asks for, exactly as the person asked it."""

    email: str
    first_name: str
    last_name: str
    policy_version: int
    wording: str


def mask_email(email: str) -> str:
    """``j***@example.com``: enough to follow a log line, not enough to learn the address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def request_newsletter_subscription(
    *, email: str, first_name: str, last_name: str = "", provenance: Provenance
) -> str:
    """The absolute URL of the confirmation link for this request; writes nothing.

    The same happens whether or not the address belongs to an account, so the caller can
    answer every request alike and nobody learns which addresses we hold. ``provenance`` is
    not stored (nothing is): the confirmation records the provenance of the click.
    """
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER)
    payload = {
        "e": get_user_model().objects.normalize_email(email.strip()).lower(),
        "f": first_name.strip(),
        "l": last_name.strip(),
        "v": current_policy_version().number,
        "w": newsletter.wording,
    }
    token = signing.dumps(payload, salt=SALT, compress=True)
    url = settings.SITE_URL + reverse("newsletter-confirm", args=[token])
    # The caller emails the link (communications.services.request_newsletter). It is not
    # logged: the token is signed, not encrypted, so the URL would give the full address away
    # to anyone reading the logs.
    logger.info("newsletter confirmation link made for %s", mask_email(payload["e"]))
    return url


def read_newsletter_request(token: str) -> NewsletterRequest:
    """The request a valid, unexpired confirmation token makes; ``TokenError`` (logged) else."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.NEWSLETTER_CONFIRMATION_MAX_AGE)
    except signing.SignatureExpired:
        return _refuse("expired")
    except signing.BadSignature:
        return _refuse("bad signature")
    if not isinstance(payload, dict) or not {"e", "f", "l", "v", "w"} <= payload.keys():
        return _refuse("malformed")
    return NewsletterRequest(
        email=str(payload["e"]),
        first_name=str(payload["f"]),
        last_name=str(payload["l"]),
        policy_version=int(payload["v"]),
        wording=str(payload["w"]),
    )


@dataclass(frozen=True)
class NewsletterConfirmation:
    subscriber: AbstractBaseUser
    # The ledger row the confirmation wrote; None when the person was already subscribed.
    event: ConsentEvent | None


@transaction.atomic
def confirm_newsletter_subscription(
    *, token: str, provenance: Provenance
) -> NewsletterConfirmation:
    """Grant the newsletter to the address in ``token``, creating a subscriber if it's new.

    The account is found by address whatever its case; a new one has an unusable password
    and can be claimed later through password reset. Confirming again changes nothing.
    A link made under an older policy version is refused: the ledger must name the version
    the person was shown, and they have not seen the current one.
    """
    asked = read_newsletter_request(token)
    if asked.policy_version != current_policy_version().number:
        _refuse("policy version changed since the request")
    subscriber = _subscriber_for(asked)
    event = grant_consent(
        subject=subscriber,
        purpose=Purpose.NEWSLETTER,
        source=Source.NEWSLETTER_FORM,
        provenance=provenance,
        wording=asked.wording,
    )
    return NewsletterConfirmation(subscriber=subscriber, event=event)


def _subscriber_for(asked: NewsletterRequest) -> AbstractBaseUser:
    users = get_user_model().objects
    user = users.filter(email__iexact=asked.email).first()
    if user is not None:
        return user
    try:
        # A savepoint, so two confirmations racing for a new address don't break the
        # outer transaction: the loser finds the row the winner created.
        with transaction.atomic():
            return users.create_user(
                asked.email, None, first_name=asked.first_name, last_name=asked.last_name
            )
    except IntegrityError:
        return users.get(email__iexact=asked.email)


def _refuse(reason: str) -> NewsletterRequest:
    logger.warning("newsletter confirmation token refused (%s)", reason)
    raise TokenError(reason)
