"""Cookie choices: an append-only log, one row per decision made in a browser."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from consent.models import CookieConsent, PolicyVersion
from consent.provenance import NO_PROVENANCE, Provenance
from consent.services.ledger import ConsentError, current_policy_version


def parse_anonymous_id(value: object) -> uuid.UUID | None:
    """The browser's anonymous id as a UUID, or None when it is missing or not a UUID."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@transaction.atomic
def record_cookie_choice(
    *,
    anonymous_id: uuid.UUID,
    user: AbstractBaseUser | None,
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


def cookie_choice_for(*, anonymous_id: uuid.UUID) -> CookieConsent | None:
    """The choice in force for this browser (its latest row), or None if it never chose.

    One query on the ``anonymous_id`` index. The row carries ``policy_changed_since``: True
    when a version newer than the one it was made under changed more than wording, so the
    browser must be asked again.
    """
    parsed_id = parse_anonymous_id(anonymous_id)
    if parsed_id is None:
        return None
    material_change_since = PolicyVersion.objects.filter(
        number__gt=OuterRef("policy_version__number")
    ).exclude(change_type=PolicyVersion.ChangeType.EDITORIAL)
    return (
        CookieConsent.objects.filter(anonymous_id=parsed_id)
        .select_related("policy_version")
        .annotate(policy_changed_since=Exists(material_change_since))
        .order_by("-id")
        .first()
    )
