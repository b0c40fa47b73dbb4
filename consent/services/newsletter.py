"""Newsletter sign-up without an account, with double opt-in.

Asking stores nothing about the person: the request lives only in a signed confirmation link
that carries the address, the names, the policy version, the exact words the person was shown
and the newsletter decision in force when it was made. Only the click on that link (a POST from
the confirmation page) creates the subscriber and records the consent, so an address typed by
someone else never ends up in the database.

Because anyone can type anyone's address, asking is limited (``NewsletterRequestLimit``, which
keeps keyed hashes only): one confirmation email per address per
``NEWSLETTER_REQUEST_INTERVAL``, none to an address already subscribed, and
``NEWSLETTER_REQUESTS_PER_CLIENT`` requests per client per ``NEWSLETTER_CLIENT_WINDOW``. The
limits live in the database, not the cache: they hold whether or not Redis is up, and they
commit or roll back with the email they allow.

A link works once. It names the newsletter decision in force when it was made (the ledger row
behind the current state, or none); once any newsletter decision is recorded after it (its own
confirmation, a withdrawal), the ledger has moved on and the link only says "already
confirmed". The ledger is append-only, so a used link can never become valid again.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from consent.models import (
    ConsentEvent,
    ConsentSource,
    CurrentConsent,
    NewsletterRequestLimit,
    Purpose,
)
from consent.names import is_valid_person_name, validate_person_name
from consent.provenance import Provenance
from consent.services.ledger import current_policy_version, record_decisions
from consent.tokens import TokenError
from privacy_site.auth_user import AuthUser
from privacy_site.masking import mask_address

logger = logging.getLogger(__name__)

SALT = "consent.newsletter.confirm"
LIMIT_SALT = "consent.newsletter.limit"
# Expired limit rows removed per request: enough to keep the table to the live windows.
PURGE_BATCH = 100
# Gmail ignores dots in the local part, and googlemail.com is the same mailbox.
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


class TooManyNewsletterRequests(Exception):
    """This client asked too often; nothing was sent. ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many newsletter requests; retry after {retry_after} s")
        self.retry_after = retry_after


class NewsletterAlreadyConfirmed(Exception):
    """The link was used already, or a newsletter decision was recorded after it was made."""


@dataclass(frozen=True)
class NewsletterRequest:
    """What a confirmation link asks for, exactly as the person asked it."""

    email: str
    first_name: str
    last_name: str
    policy_version: int
    wording: str
    # The ledger row behind the newsletter state in force when the link was made; 0 for none.
    issued_against: int = 0


def newsletter_address(email: str) -> str:
    """The address a newsletter request is for, as its link carries it: the one the
    confirmation email must go to."""
    return get_user_model().objects.normalize_email(email.strip()).lower()


@transaction.atomic
def request_newsletter_subscription(
    *,
    email: str,
    first_name: str,
    last_name: str = "",
    provenance: Provenance,
    confirm_url: Callable[[str], str],
    client: str | None = None,
    held_back: Callable[[int], bool] | None = None,
) -> str | None:
    """The absolute URL of the confirmation link to email for this request, or None when no
    email may go: the address was sent one within ``NEWSLETTER_REQUEST_INTERVAL``, or it is
    subscribed already. ``TooManyNewsletterRequests`` when ``client`` (the caller's IP
    address) has asked too often.

    The caller answers None and a URL alike, so nobody learns which addresses we hold or
    which case applied. Names must be names (``consent.names``; ``ValidationError``).
    ``provenance`` is not stored: the confirmation records the provenance of the click.
    ``confirm_url`` makes the link's absolute URL from its signed token: the page that
    confirms belongs to the app that emails the link. ``held_back`` says, from an account's
    id, whether the newsletter is held back from that subscribed account because its address
    was never proved (signed up, never verified); such a subscriber is sent the link, whose
    click proves the address. By default no subscriber is held back.
    """
    for name in (first_name, last_name):
        validate_person_name(name.strip())
    address = newsletter_address(email)
    now = timezone.now()
    refused_for = _take(
        _client_key(client),
        limit=settings.NEWSLETTER_REQUESTS_PER_CLIENT,
        window=settings.NEWSLETTER_CLIENT_WINDOW,
        now=now,
    )
    if refused_for:
        logger.warning("newsletter requests from one client over the limit")
        raise TooManyNewsletterRequests(refused_for)
    first_in_interval = not _take(
        _address_key(address), limit=1, window=settings.NEWSLETTER_REQUEST_INTERVAL, now=now
    )
    _purge_expired(now)
    issued_against, subject_id, granted = _newsletter_state_of(address)
    subscribed = granted and not (held_back is not None and held_back(subject_id))
    if not first_in_interval or subscribed:
        reason = "already subscribed" if subscribed else "one was sent within the interval"
        logger.info("newsletter confirmation for %s not sent: %s", mask_address(address), reason)
        return None
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER)
    payload = {
        "e": address,
        "f": first_name.strip(),
        "l": last_name.strip(),
        "v": current_policy_version().number,
        "w": newsletter.wording,
        "n": issued_against,
    }
    token = signing.dumps(payload, salt=SALT, compress=True)
    url = confirm_url(token)
    # The caller emails the link (communications.services.request_newsletter). It is not
    # logged: the token is signed, not encrypted, so the URL would give the full address away
    # to anyone reading the logs.
    logger.info("newsletter confirmation link made for %s", mask_address(address))
    return url


def _hash(value: str) -> str:
    return salted_hmac(LIMIT_SALT, value, algorithm="sha256").hexdigest()


def _address_key(address: str) -> str:
    """One key per mailbox: ``Nia+x@gmail.com`` and ``n.i.a@gmail.com`` are one limit."""
    local, _, domain = address.lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return _hash(f"address:{local}@{domain}")


def _client_key(client: str | None) -> str:
    """One key per IPv4 address, or per IPv6 /64 (what one subscriber line is given)."""
    try:
        ip = ipaddress.ip_address((client or "").strip())
    except ValueError:
        network = "unknown"
    else:
        if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 on a dual stack
            ip = ip.ipv4_mapped
        network = str(ip) if ip.version == 4 else str(ipaddress.ip_network(f"{ip}/64", False))
    return _hash(f"client:{network}")


def _take(key: str, *, limit: int, window: int, now: datetime) -> int:
    """Count one request for ``key``: 0 if it is within ``limit`` per ``window`` seconds,
    else the seconds until the window ends (and nothing is counted)."""
    row, created = NewsletterRequestLimit.objects.select_for_update().get_or_create(
        key=key, defaults={"count": 1, "window_ends_at": now + timedelta(seconds=window)}
    )
    if created:
        return 0
    if row.window_ends_at <= now:
        row.count, row.window_ends_at = 1, now + timedelta(seconds=window)
    elif row.count < limit:
        row.count += 1
    else:
        return max(1, int((row.window_ends_at - now).total_seconds()) + 1)
    row.save(update_fields=["count", "window_ends_at"])
    return 0


def _purge_expired(now: datetime) -> None:
    # SKIP LOCKED: rows another request is using are left to it, so purging never waits and
    # can't deadlock with a request that holds its own rows.
    expired = list(
        NewsletterRequestLimit.objects.filter(window_ends_at__lte=now)
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:PURGE_BATCH]
    )
    if expired:
        NewsletterRequestLimit.objects.filter(pk__in=expired).delete()


def _newsletter_state_of(address: str) -> tuple[int, int, bool]:
    """(the ledger row behind the newsletter state in force, or 0; the account's id; whether
    it is granted) for the account with ``address``, whatever its case; (0, 0, False) when it
    has no newsletter state."""
    row = (
        CurrentConsent.objects.filter(
            subject__email__iexact=address, purpose__code=Purpose.NEWSLETTER
        )
        .values_list("event_id", "subject_id", "granted")
        .first()
    )
    return row if row is not None else (0, 0, False)


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
        # Links made before links were single-use carry no "n": they are good only while the
        # address has no newsletter decision at all, so none of them can be replayed.
        issued_against=int(payload.get("n", 0)),
    )


def newsletter_request_used(asked: NewsletterRequest) -> bool:
    """True when a newsletter decision was recorded after the link was made: it was used
    (or overtaken), and confirming it now would change nothing."""
    issued_against, _, _ = _newsletter_state_of(asked.email)
    return issued_against != asked.issued_against


@dataclass(frozen=True)
class NewsletterConfirmation:
    subscriber: AuthUser
    # The ledger row the confirmation wrote.
    event: ConsentEvent


@transaction.atomic
def confirm_newsletter_subscription(
    *, token: str, provenance: Provenance
) -> NewsletterConfirmation:
    """Grant the newsletter to the address in ``token``, creating a subscriber if it's new.

    The account is found by address whatever its case; a new one has an unusable password
    and can be claimed later through password reset. A link works once: confirming again,
    or after any later newsletter decision (a withdrawal, say), raises
    ``NewsletterAlreadyConfirmed`` and changes nothing. A link made under an older policy
    version is refused: the ledger must name the version the person was shown, and they have
    not seen the current one. A valid link always writes a ledger row, the newsletter already
    granted or not: the row, from the newsletter form, is the proof that the address's owner
    asked (``consent.selectors.confirmed_by_double_opt_in``).
    """
    asked = read_newsletter_request(token)
    if asked.policy_version != current_policy_version().number:
        _refuse("policy version changed since the request")
    subscriber = _subscriber_for(asked)
    # Lock the subscriber before reading their state, so two clicks on one link serialise:
    # the second sees the first's ledger row and is refused.
    list(get_user_model().objects.select_for_update().filter(pk=subscriber.pk).values_list("pk"))
    if newsletter_request_used(asked):
        logger.info("newsletter confirmation link for %s used again", mask_address(asked.email))
        raise NewsletterAlreadyConfirmed
    # Confirmed: the address's request is no longer pending, so a later request (after a
    # withdrawal, say) is not held back by this one.
    NewsletterRequestLimit.objects.filter(key=_address_key(asked.email)).delete()
    # Recorded even when the newsletter is granted already: a link is made for a subscriber
    # only when their address was never proved (``held_back``), and this click proves it.
    [event] = record_decisions(
        subject=subscriber,
        choices={Purpose.NEWSLETTER: True},
        source=ConsentSource.NEWSLETTER_FORM,
        provenance=provenance,
        wording={Purpose.NEWSLETTER: asked.wording},
        record_repeats=True,
    )
    return NewsletterConfirmation(subscriber=subscriber, event=event)


def _subscriber_for(asked: NewsletterRequest) -> AuthUser:
    users = get_user_model().objects
    user = users.filter(email__iexact=asked.email).first()
    if user is not None:
        return user
    try:
        # A savepoint, so two confirmations racing for a new address don't break the
        # outer transaction: the loser finds the row the winner created.
        with transaction.atomic():
            return users.create_user(
                asked.email,
                None,
                first_name=_name_or_blank(asked.first_name),
                last_name=_name_or_blank(asked.last_name),
            )
    except (IntegrityError, ValidationError):
        # The loser of the race meets the winner's row either in the database (IntegrityError)
        # or in the model's own check of the address constraint (ValidationError).
        user = users.filter(email__iexact=asked.email).first()
        if user is None:
            raise
        return user


def _name_or_blank(name: str) -> str:
    # A link signed before names were checked may carry anything; such a name is dropped.
    return name if is_valid_person_name(name) else ""


def _refuse(reason: str) -> NewsletterRequest:
    logger.warning("newsletter confirmation token refused (%s)", reason)
    raise TokenError(reason)
