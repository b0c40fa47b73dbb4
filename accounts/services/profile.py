"""Correcting and updating personal data (the policy's "Correcting/Updating" clause).

``update_profile`` is the one write path for a person's name, postal address, phone and
customer-service channel: it validates and normalises, saves, verifies a changed address with
the configured verifier, and writes one audit row per changed field in the same transaction.

Normalisation rules, shared with the form:

- Postcode: a UK postcode, upper case with one space before the last three characters
  (``sw1a1aa`` -> ``SW1A 1AA``).
- Phone: stored in international (E.164) form with no spaces. A UK number written nationally
  (``07700 900123``, ``020 7946 0000``: 10 or 11 digits starting 0) becomes ``+44...``;
  ``00`` becomes ``+``; ``+44 (0)20...`` loses the ``(0)``; spaces, dots, dashes and brackets
  are ignored. An international number has 8 to 15 digits after ``+``; a ``+44`` number has
  9 or 10 digits after ``+44``, not starting 0.
- Address: all or nothing: with any part given, line 1, town and postcode are required.
- Customer service by phone needs a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.address import (
    AddressInput,
    InvalidPostcode,
    VerificationResult,
    get_verifier,
    normalise_postcode,
)
from accounts.models import AddressVerification, AuditSource, Profile, User
from privacy_site.staff import is_active_staff
from sharing.models import DataCategory
from sharing.services import notify_recipients_of_correction

from .audit import FieldChange, record_changes

USER_FIELDS = ("first_name", "last_name")
ADDRESS_FIELDS = ("address_line_1", "address_line_2", "town", "postcode")
PROFILE_FIELDS = (*ADDRESS_FIELDS, "phone", "contact_channel")
EDITABLE_FIELDS = (*USER_FIELDS, *PROFILE_FIELDS)

# How each field is named to the person (messages, their change history).
FIELD_LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "address_line_1": "address line 1",
    "address_line_2": "address line 2",
    "town": "town or city",
    "postcode": "postcode",
    "phone": "phone number",
    "contact_channel": "customer service channel",
    "email": "email address",
    "password": "password",
    "is_active": "account active",
    "erasure_requested_at": "erasure requested",
    "erased_at": "erased",
    "privacy_request": "privacy request linked to the account",
}

# The kind of data each field is, to tell the parties that received it of a correction
# (the customer-service channel is never given to anyone).
FIELD_CATEGORIES = {
    "first_name": DataCategory.NAME,
    "last_name": DataCategory.NAME,
    **dict.fromkeys(ADDRESS_FIELDS, DataCategory.POSTAL_ADDRESS),
    "phone": DataCategory.PHONE,
}

Channel = Profile.ContactChannel
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")


class InvalidPhone(ValueError):
    """Not a phone number we can call."""


def normalise_phone(value: str) -> str:
    """``"07700 900123"`` -> ``"+447700900123"``; see the module docstring for the rule.
    An empty value stays empty. Raises ``InvalidPhone``."""
    text = (value or "").strip()
    if not text:
        return ""
    text = re.sub(r"^(\+\s*44\s*)\(0\)", r"\1", text)
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"0\d{9,10}", compact):
        return "+44" + compact[1:]
    if re.fullmatch(r"\+44[1-9]\d{8,9}", compact):
        return compact
    if re.fullmatch(r"\+[1-9]\d{7,14}", compact) and not compact.startswith("+44"):
        return compact
    raise InvalidPhone(
        "Enter a UK phone number like 07700 900123, or an international number starting +."
    )


def normalise_profile_fields(values: Mapping[str, str]) -> dict[str, str]:
    """Every editable field, trimmed and normalised; ``ValidationError`` (per field) if the
    rules above are broken. ``values`` holds the whole profile, not only what changes."""
    cleaned = {name: str(values.get(name) or "").strip() for name in EDITABLE_FIELDS}
    errors: dict[str, list[str]] = {}
    if cleaned["postcode"]:
        try:
            cleaned["postcode"] = normalise_postcode(cleaned["postcode"])
        except InvalidPostcode as error:
            errors["postcode"] = [str(error)]
    if any(cleaned[name] for name in ADDRESS_FIELDS):
        for name, message in (
            ("address_line_1", "Enter the first line of your address."),
            ("town", "Enter your town or city."),
            ("postcode", "Enter your postcode."),
        ):
            if not cleaned[name]:
                errors.setdefault(name, []).append(message)
    try:
        cleaned["phone"] = normalise_phone(cleaned["phone"])
    except InvalidPhone as error:
        errors["phone"] = [str(error)]
    if not cleaned["contact_channel"]:
        cleaned["contact_channel"] = Channel.EMAIL
    if cleaned["contact_channel"] not in Channel.values:
        errors["contact_channel"] = ["Choose email or phone."]
    elif (
        cleaned["contact_channel"] == Channel.PHONE
        and not cleaned["phone"]
        and not errors.get("phone")
    ):
        errors["phone"] = [
            "Enter a phone number for customer service to call, or choose email replies."
        ]
    if errors:
        raise ValidationError(errors)
    return cleaned


@dataclass(frozen=True)
class ProfileUpdate:
    """What ``update_profile`` did: the fields that changed (in form order) and the address
    verification it recorded, if the address changed."""

    changed: tuple[str, ...]
    verification: AddressVerification | None = None

    @property
    def changed_labels(self) -> list[str]:
        return [FIELD_LABELS[name] for name in self.changed]


def profile_values(user: User) -> dict[str, str]:
    """The person's editable data as it stands; a person with no profile yet gets defaults."""
    profile = Profile.objects.filter(user=user).first()
    return _values(user, profile)


def _values(user: User, profile: Profile | None) -> dict[str, str]:
    values = {name: getattr(user, name) for name in USER_FIELDS}
    for name in PROFILE_FIELDS:
        values[name] = getattr(profile, name) if profile else ""
    if not values["contact_channel"]:
        values["contact_channel"] = Channel.EMAIL
    return values


def update_profile(
    *, user: User, actor: User, source: str = AuditSource.PROFILE_PAGE, **fields: str
) -> ProfileUpdate:
    """Change any of ``EDITABLE_FIELDS`` of ``user`` on behalf of ``actor`` (the person
    themselves, or staff). Fields not passed keep their value. Raises ``ValidationError`` (per
    field; nothing is saved) or ``PermissionDenied``. Unchanged fields write nothing."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise TypeError(f"update_profile() got unknown fields: {', '.join(unknown)}")
    if actor.pk != user.pk and not is_active_staff(actor):
        raise PermissionDenied("Only the person or a member of staff may change a profile.")
    current = profile_values(user)
    wanted = normalise_profile_fields({**current, **fields})
    changed = [name for name in EDITABLE_FIELDS if wanted[name] != current[name]]
    verification = None
    if wanted["postcode"] and any(name in ADDRESS_FIELDS for name in changed):
        # Before the transaction: a third party's latency must not hold the person's row lock.
        verification = get_verifier().verify(
            AddressInput(
                line_1=wanted["address_line_1"],
                line_2=wanted["address_line_2"],
                town=wanted["town"],
                postcode=wanted["postcode"],
            )
        )
    update = _save(user=user, actor=actor, source=source, wanted=wanted, result=verification)
    for name in USER_FIELDS:  # the caller's object (request.user) shows the new name too
        setattr(user, name, wanted[name])
    return update


@transaction.atomic
def _save(
    *,
    user: User,
    actor: User,
    source: str,
    wanted: dict[str, str],
    result: VerificationResult | None,
) -> ProfileUpdate:
    # The user row is the lock: two saves of one person's profile run one after the other,
    # so each audit row's old value is the value it really replaced.
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.erased_at is not None:
        raise PermissionDenied("This account's data has been erased; there is nothing to change.")
    profile = Profile.objects.filter(user=locked).first()
    current = _values(locked, profile)
    changed = tuple(name for name in EDITABLE_FIELDS if wanted[name] != current[name])
    if not changed:
        return ProfileUpdate(changed=())
    now = timezone.now()

    user_changed = [name for name in changed if name in USER_FIELDS]
    if user_changed:
        for name in user_changed:
            setattr(locked, name, wanted[name])
        locked.save(update_fields=user_changed)

    profile_changed = [name for name in changed if name in PROFILE_FIELDS]
    if profile_changed:
        if profile is None:  # created on the first save that has something to keep
            profile = Profile(user=locked)
        for name in PROFILE_FIELDS:
            setattr(profile, name, wanted[name])
        profile.updated_at = now
        profile.save()

    record_changes(
        subject=locked,
        actor=actor,
        changes=[FieldChange(name, current[name], wanted[name]) for name in changed],
        source=source,
        occurred_at=now,
    )
    notify_recipients_of_correction(
        person=locked,
        categories={FIELD_CATEGORIES[name] for name in changed if name in FIELD_CATEGORIES},
        occurred_at=now,
    )

    verification = None
    if result is not None and any(name in ADDRESS_FIELDS for name in changed):
        verification = AddressVerification.objects.create(
            user=locked,
            source=result.source[:50],
            verified=result.verified,
            postcode=result.postcode[:8],
            detail=result.detail[:300],
            result=result.as_json(),
            created_at=now,
        )
    return ProfileUpdate(changed=changed, verification=verification)


@transaction.atomic
def record_email_change(*, user: User, old: str, new: str) -> None:
    """The person's own change of email address (made by allauth once the new one is
    verified), as ``update_profile`` records a change: its audit row, and a notice to every
    party that received the email address (Article 19). Nothing for a first address."""
    if not old or old.lower() == new.lower():
        return
    record_changes(
        subject=user,
        actor=user,
        changes=[FieldChange(field="email", old=old, new=new)],
        source=AuditSource.ACCOUNT,
    )
    notify_recipients_of_correction(person=user, categories={DataCategory.EMAIL})
