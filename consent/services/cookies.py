"""Cookie choices: an append-only log, one row per decision made in a browser."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from consent.anonymous_id import parse_anonymous_id
from consent.models import CookieConsent
from consent.provenance import NO_PROVENANCE, Provenance
from consent.services.ledger import ConsentError, current_policy_version
from privacy_site.auth_user import AuthUser


@transaction.atomic
def record_cookie_choice(
    *,
    anonymous_id: uuid.UUID,
    user: AuthUser | None,
    analytics: bool,
    marketing: bool,
    gpc: bool,
    provenance: Provenance = NO_PROVENANCE,
) -> CookieConsent:
    """Append the browser's choice, made under the current policy version.

    A Global Privacy Control signal (``gpc``) is a refusal of marketing that no form field can
    override: marketing is stored off and ``gpc_honoured`` records why. An anonymous user is
    stored as no user. Raises ``ConsentError`` before writing anything when an argument is
    not what it should be.
    """
    parsed_id = parse_anonymous_id(anonymous_id)
    if parsed_id is None:
        raise ConsentError(f"Not an anonymous id: {anonymous_id!r}.")
    for name, value in (("analytics", analytics), ("marketing", marketing), ("gpc", gpc)):
        if not isinstance(value, bool):
            raise ConsentError(f"{name} must be True or False, not {value!r}.")
    if user is not None and not user.is_authenticated:
        user = None
    return CookieConsent.objects.create(
        anonymous_id=parsed_id,
        user=user,
        analytics=analytics,
        marketing=marketing and not gpc,
        gpc_honoured=gpc,
        policy_version=current_policy_version(),
        created_at=timezone.now(),
        ip_address=provenance.ip_address,
        user_agent=provenance.user_agent,
    )
