"""Every write of the api_keys app: issuing and revoking keys (staff, audited), and checking a
key a system presents (refusals audited)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api_keys.models import APIKeyEvent, Scope, SystemAPIKey
from privacy_site.auth_user import AuthUser

logger = logging.getLogger("api_keys")

_generator = SystemAPIKey.objects.key_generator
# The shape of every key we issue: "<prefix>.<secret>", both from get_random_string's letters
# and digits. Anything else is refused before the database is asked.
KEY_SHAPE = re.compile(
    rf"(?P<prefix>[A-Za-z0-9]{{{_generator.prefix_length}}})"
    rf"\.[A-Za-z0-9]{{{_generator.secret_key_length}}}"
)
PREFIX_SHAPE = re.compile(rf"[A-Za-z0-9]{{{_generator.prefix_length}}}")
# last_used_at is written at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class APIKeyError(Exception):
    """A staff request about keys that can't be done (no name, no or unknown scopes...)."""


class KeyRefused(Exception):
    """The key presented is not a usable key. ``reason`` is for the audit only: callers get
    one answer whatever it is, so nobody learns whether a key exists or was revoked."""

    def __init__(self, reason: APIKeyEvent.Reason, *, key: SystemAPIKey | None = None):
        super().__init__(reason.label)
        self.reason = reason
        self.key = key


@transaction.atomic
def issue_api_key(
    *,
    name: str,
    scopes: Iterable[str],
    actor: AuthUser,
    expires_at: datetime | None = None,
) -> tuple[SystemAPIKey, str]:
    """A new key for the system ``name``, holding ``scopes``; returns the key row and the key
    itself, which is not stored and can't be shown again. Audited (kind ``issued``)."""
    name = (name or "").strip()
    scopes = sorted(set(scopes))
    if not name:
        raise APIKeyError("A key needs the name of the system that will use it.")
    if not scopes:
        raise APIKeyError("A key needs at least one scope.")
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown:
        raise APIKeyError(f"Unknown scope: {', '.join(unknown)}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise APIKeyError("The expiry date must be in the future.")
    created, secret = SystemAPIKey.objects.create_key(
        name=name, scopes=scopes, created_by=actor, expiry_date=expires_at
    )
    # The library's manager is typed for its abstract model; it makes a row of the model it
    # manages.
    api_key = cast(SystemAPIKey, created)
    APIKeyEvent.objects.create(
        kind=APIKeyEvent.Kind.ISSUED, key=api_key, actor=actor, scopes=scopes
    )
    logger.info("API key %s (%s) issued by user %s", api_key.prefix, name, actor.pk)
    return api_key, secret


@transaction.atomic
def revoke_api_key(*, key: SystemAPIKey, actor: AuthUser) -> bool:
    """Revoke ``key`` for good; False (and nothing written) if it already was. Audited."""
    now = timezone.now()
    updated = SystemAPIKey.objects.filter(pk=key.pk, revoked=False).update(
        revoked=True, revoked_at=now, revoked_by=actor
    )
    if not updated:
        return False
    key.refresh_from_db()
    APIKeyEvent.objects.create(
        kind=APIKeyEvent.Kind.REVOKED, key=key, actor=actor, scopes=key.scopes, occurred_at=now
    )
    logger.info("API key %s (%s) revoked by user %s", key.prefix, key.name, actor.pk)
    return True


def key_from_secret(secret: str) -> SystemAPIKey:
    """The usable key whose secret is ``secret``, or KeyRefused saying why not."""
    shape = KEY_SHAPE.fullmatch(secret)
    if shape is None:
        raise KeyRefused(APIKeyEvent.Reason.MALFORMED)
    api_key = SystemAPIKey.objects.filter(prefix=shape["prefix"]).first()
    if api_key is None or not api_key.is_valid(secret):
        raise KeyRefused(APIKeyEvent.Reason.UNKNOWN)
    if api_key.revoked:
        raise KeyRefused(APIKeyEvent.Reason.REVOKED, key=api_key)
    if api_key.has_expired:
        raise KeyRefused(APIKeyEvent.Reason.EXPIRED, key=api_key)
    return api_key


def note_key_use(*, key: SystemAPIKey) -> None:
    """Keep ``last_used_at`` within a minute, with at most one conditional write a minute.
    ``key`` is the row just read to check the key: while it says the key was used within the
    minute, nothing is sent to the database at all."""
    now = timezone.now()
    if key.last_used_at is not None and key.last_used_at >= now - LAST_USED_RESOLUTION:
        return
    SystemAPIKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION),
        pk=key.pk,
    ).update(last_used_at=now)


def record_refusal(
    *, refusal: KeyRefused, secret: str, client_address: str, limit_reached: bool
) -> None:
    """Audit a refused key: a ``refused`` row, and a ``limited`` row when this failure used up
    the client's allowance. The secret is never stored or logged, only a prefix of key shape."""
    candidate = secret.partition(".")[0]
    prefix = candidate if PREFIX_SHAPE.fullmatch(candidate) else ""
    row = {
        "key": refusal.key,
        "reason": refusal.reason,
        "presented_prefix": prefix,
        "client_address": client_address,
    }
    with transaction.atomic():
        APIKeyEvent.objects.create(kind=APIKeyEvent.Kind.REFUSED, **row)
        if limit_reached:
            APIKeyEvent.objects.create(kind=APIKeyEvent.Kind.LIMITED, **row)
    logger.warning(
        "API key refused (%s) prefix=%s client=%s",
        refusal.reason,
        prefix or "-",
        client_address,
    )
    if limit_reached:
        logger.warning("API key failures: client %s blocked", client_address)
