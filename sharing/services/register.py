"""The register of third parties: every write goes through here, and each one writes a
``ThirdPartyChange`` row (who, when, why, each field before and after) in its transaction.

A party is never deleted: the disclosures to it point at it. One that no longer receives data
is ended by setting ``active_until``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models, transaction
from django.utils import timezone

from consent.models import Purpose
from privacy_site.auth_user import AuthUser
from sharing.models import DataCategory, DisclosurePurpose, Role, ThirdParty, ThirdPartyChange

# The fields a change compares and records, in the order they are shown.
RECORDED_FIELDS = (
    "name",
    "role",
    "purposes",
    "purpose_description",
    "consent_purposes",
    "categories",
    "retention_promise",
    "contract_reference",
    "privacy_contact",
    "notification_email",
    "notification_url",
    "active_from",
    "active_until",
)
_HTTPS_URL = URLValidator(schemes=["https"])


class RegisterError(ValueError):
    """A register entry that can't be saved: the message says why, for staff."""


@dataclass(frozen=True, kw_only=True)
class PartyDetails:
    """Everything staff set about a party: what ``register_third_party`` and
    ``change_third_party`` take."""

    name: str
    role: str
    purposes: Sequence[str]
    purpose_description: str
    categories: Sequence[str]
    retention_promise: str
    active_from: date
    active_until: date | None = None
    consent_purposes: Sequence[Purpose] = ()
    contract_reference: str = ""
    privacy_contact: str = ""
    notification_email: str = ""
    notification_url: str = ""

    @classmethod
    def of(cls, party: ThirdParty) -> PartyDetails:
        """The details ``party`` holds now (for a change of only some of them)."""
        return cls(
            name=party.name,
            role=party.role,
            purposes=list(party.purposes),
            purpose_description=party.purpose_description,
            categories=list(party.categories),
            retention_promise=party.retention_promise,
            active_from=party.active_from,
            active_until=party.active_until,
            consent_purposes=list(party.consent_purposes.all()),
            contract_reference=party.contract_reference,
            privacy_contact=party.privacy_contact,
            notification_email=party.notification_email,
            notification_url=party.notification_url,
        )


def _in_order(values: Sequence[str], choices: type[models.TextChoices], what: str) -> list[str]:
    """``values`` without repeats, in the order of ``choices``; unknown ones refused."""
    unknown = sorted(set(values) - set(choices.values))
    if unknown:
        raise RegisterError(f"Unknown {what}: {', '.join(unknown)}.")
    return [value for value in choices.values if value in set(values)]


def _clean(details: PartyDetails, *, party: ThirdParty | None) -> dict[str, Any]:
    """The values to store, checked; raises ``RegisterError`` naming what is wrong."""
    name = details.name.strip()
    if not name:
        raise RegisterError("The party needs a name.")
    same_name = ThirdParty.objects.filter(name__iexact=name)
    if party is not None:
        same_name = same_name.exclude(pk=party.pk)
    if same_name.exists():
        raise RegisterError(f"A party named {name!r} is in the register already.")
    if details.role not in Role.values:
        raise RegisterError(f"Unknown role: {details.role}.")
    purposes = _in_order(details.purposes, DisclosurePurpose, "purpose")
    if not purposes:
        raise RegisterError("Name at least one purpose the party receives data for.")
    categories = _in_order(details.categories, DataCategory, "kind of data")
    if details.role == Role.AGGREGATE_ONLY and categories:
        raise RegisterError(
            "An aggregate-only recipient never receives personal data: it can't be given "
            "kinds of personal data."
        )
    if details.role != Role.AGGREGATE_ONLY and not categories:
        raise RegisterError("Name the kinds of personal data the party may receive.")
    purpose_description = details.purpose_description.strip()
    if not purpose_description:
        raise RegisterError("Say what the party does with the data.")
    retention_promise = details.retention_promise.strip()
    if not retention_promise:
        raise RegisterError("Say what the party promises about keeping the data.")
    if details.active_until is not None and details.active_until < details.active_from:
        raise RegisterError("The last active day can't be before the first.")
    notification_email = details.notification_email.strip()
    if notification_email:
        try:
            validate_email(notification_email)
        except ValidationError as exc:
            raise RegisterError("The notification email is not an email address.") from exc
    notification_url = details.notification_url.strip()
    if notification_url:
        try:
            _HTTPS_URL(notification_url)
        except ValidationError as exc:
            raise RegisterError("The notification endpoint must be an https:// URL.") from exc
    return {
        "name": name,
        "role": details.role,
        "purposes": purposes,
        "purpose_description": purpose_description,
        "consent_purposes": sorted(set(details.consent_purposes), key=lambda p: p.code),
        "categories": categories,
        "retention_promise": retention_promise,
        "contract_reference": details.contract_reference.strip(),
        "privacy_contact": details.privacy_contact.strip(),
        "notification_email": notification_email,
        "notification_url": notification_url,
        "active_from": details.active_from,
        "active_until": details.active_until,
    }


def check_party_details(*, details: PartyDetails, party: ThirdParty | None = None) -> None:
    """Raise ``RegisterError`` if ``details`` can't be saved (for ``party``, or a new one):
    what a form checks before it calls the service."""
    _clean(details, party=party)


def _recorded(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as the change log keeps them (JSON: dates as ISO text, purposes by code)."""
    recorded = {}
    for field in RECORDED_FIELDS:
        value = values[field]
        if field == "consent_purposes":
            value = [purpose.code for purpose in value]
        elif isinstance(value, date):
            value = value.isoformat()
        recorded[field] = value
    return recorded


def _stored(party: ThirdParty) -> dict[str, Any]:
    values = {
        field: getattr(party, field) for field in RECORDED_FIELDS if field != "consent_purposes"
    }
    values["consent_purposes"] = sorted(party.consent_purposes.all(), key=lambda p: p.code)
    return values


def _check_staff(actor: AuthUser | None, permission: str) -> None:
    if actor is None or not (actor.is_active and actor.is_staff):
        raise RegisterError("Only a member of staff may change the register.")
    if not actor.has_perm(f"sharing.{permission}_thirdparty"):
        raise RegisterError("You do not have permission to change the register.")


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise RegisterError("Say why the register changes.")
    return reason


@transaction.atomic
def register_third_party(*, details: PartyDetails, actor: AuthUser, reason: str) -> ThirdParty:
    """Add a party to the register, recorded with every detail, who added it and why.
    Raises ``RegisterError`` (nothing written)."""
    _check_staff(actor, "add")
    return _register(details, changed_by=actor, reason=reason)


def _register(details: PartyDetails, *, changed_by: AuthUser | None, reason: str) -> ThirdParty:
    reason = _check_reason(reason)
    values = _clean(details, party=None)
    consent_purposes = values.pop("consent_purposes")
    party = ThirdParty.objects.create(**values)
    party.consent_purposes.set(consent_purposes)
    ThirdPartyChange.objects.create(
        party=party,
        kind=ThirdPartyChange.Kind.REGISTERED,
        before={},
        after=_recorded({**values, "consent_purposes": consent_purposes}),
        reason=reason,
        changed_by=changed_by,
        changed_at=timezone.now(),
    )
    return party


@transaction.atomic
def change_third_party(
    *, party: ThirdParty, details: PartyDetails, actor: AuthUser, reason: str
) -> ThirdPartyChange | None:
    """Change a party's details, recorded with each changed field before and after, who
    changed it and why. None (nothing written) when nothing changed. Disclosures already
    logged keep what they were. Raises ``RegisterError`` (nothing written)."""
    _check_staff(actor, "change")
    reason = _check_reason(reason)
    locked = ThirdParty.objects.select_for_update().get(pk=party.pk)
    values = _clean(details, party=locked)
    old = _recorded(_stored(locked))
    new = _recorded(values)
    changed = [field for field in RECORDED_FIELDS if old[field] != new[field]]
    if not changed:
        return None
    consent_purposes = values.pop("consent_purposes")
    for field, value in values.items():
        setattr(locked, field, value)
    locked.save()
    locked.consent_purposes.set(consent_purposes)
    for column in ThirdParty._meta.concrete_fields:
        setattr(party, column.attname, getattr(locked, column.attname))
    return ThirdPartyChange.objects.create(
        party=locked,
        kind=ThirdPartyChange.Kind.CHANGED,
        before={field: old[field] for field in changed},
        after={field: new[field] for field in changed},
        reason=reason,
        changed_by=actor,
        changed_at=timezone.now(),
    )


@transaction.atomic
def register_decided_party(
    *, details: PartyDetails, decided_by: AuthUser, reason: str
) -> ThirdParty:
    """Add a party that a decision recorded elsewhere brings in (the counterparty of a business
    transition): no register permission is asked of ``decided_by``, who made that decision,
    and the change log names them and ``reason``. Raises ``RegisterError`` (nothing written)."""
    return _register(details, changed_by=decided_by, reason=reason)
