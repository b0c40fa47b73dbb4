"""The accounts app's part of a legal request's export (``sharing.legal_export``): names,
email address, postal address, phone number and account records, as held during the period
asked about.

A name, an email address, a postal address or a phone number is given as each version in
force at some time in the period: the one at its start (worked back from today's through the
audit trail's old values) and each one a change during the period put in place, with when it
took effect; never one set after the period. An erased person's values are gone (the audit
trail keeps no values after erasure), so nothing is given for them.
"""

from __future__ import annotations

from itertools import groupby

from accounts.models import AuditEvent, Profile, User
from sharing.legal_export import Period, register_export_source
from sharing.models import DataCategory

NAME_FIELDS = ("first_name", "last_name")
ADDRESS_FIELDS = ("address_line_1", "address_line_2", "town", "postcode")
PHONE_FIELDS = ("phone",)
EMAIL_FIELDS = ("email",)
USER_FIELDS = (*NAME_FIELDS, *EMAIL_FIELDS)


def _current(person: User, fields: tuple[str, ...]) -> dict[str, str]:
    profile = Profile.objects.filter(user_id=person.pk).first()
    values = {}
    for field in fields:
        holder = person if field in USER_FIELDS else profile
        values[field] = (getattr(holder, field) or "") if holder is not None else ""
    return values


def _held_during(person: User, fields: tuple[str, ...], period: Period) -> list[dict[str, str]]:
    """Each version of ``fields`` in force at some time in ``period``, oldest first."""
    if person.date_joined >= period.ends_before:
        return []
    values = _current(person, fields)
    changes = [
        (when, list(rows))
        for when, rows in groupby(
            AuditEvent.objects.filter(subject_id=person.pk, field__in=fields).order_by(
                "occurred_at", "id"
            ),
            key=lambda row: row.occurred_at,
        )
    ]
    # Back from today's values to those at the start of the period.
    for when, rows in reversed(changes):
        if when < period.starts_at:
            break
        for row in rows:
            values[row.field] = row.old_value or ""
    versions = [(max(period.starts_at, person.date_joined), dict(values))]
    for when, rows in changes:
        if period.covers(when):
            for row in rows:
                values[row.field] = row.new_value or ""
            versions.append((when, dict(values)))
    held, seen = [], set()
    for when, version in versions:
        key = tuple(version[field] for field in fields)
        if any(key) and key not in seen:
            seen.add(key)
            held.append({**version, "held_from": when.isoformat()})
    return held


def names(person: User, period: Period) -> list[dict[str, str]]:
    return _held_during(person, NAME_FIELDS, period)


def postal_addresses(person: User, period: Period) -> list[dict[str, str]]:
    return _held_during(person, ADDRESS_FIELDS, period)


def phone_numbers(person: User, period: Period) -> list[dict[str, str]]:
    return _held_during(person, PHONE_FIELDS, period)


def email_addresses(person: User, period: Period) -> list[dict[str, str]]:
    """Each address the account had during the period (a change of address is audited with
    its values: ``accounts.receivers``). An erased account's address is a placeholder, not
    the person's: nothing is given."""
    if person.erased_at is not None:
        return []
    return _held_during(person, EMAIL_FIELDS, period)


def account_records(person: User, period: Period) -> dict:
    """When the account was opened, and what happened to it during the period (log-ins,
    closing, erasure, changes of details without their values)."""
    if person.date_joined >= period.ends_before:
        return {}
    changes = AuditEvent.objects.filter(
        subject_id=person.pk,
        occurred_at__gte=period.starts_at,
        occurred_at__lt=period.ends_before,
    ).order_by("occurred_at", "id")
    return {
        "opened": person.date_joined.isoformat(),
        "last_login_in_period": (
            person.last_login.isoformat()
            if person.last_login is not None and period.covers(person.last_login)
            else None
        ),
        "changes_in_period": [
            {
                "what": change.field,
                "when": change.occurred_at.isoformat(),
                "by": "the person"
                if change.actor_id == person.pk
                else ("staff" if change.actor_id else "the system"),
                "how": change.get_source_display(),
            }
            for change in changes
        ],
    }


def register() -> None:
    """Offer these to ``sharing.legal_export`` (called from ``AccountsConfig.ready``)."""
    register_export_source(category=DataCategory.NAME, name="account_names", source=names)
    register_export_source(
        category=DataCategory.POSTAL_ADDRESS, name="postal_addresses", source=postal_addresses
    )
    register_export_source(category=DataCategory.PHONE, name="phone_numbers", source=phone_numbers)
    register_export_source(
        category=DataCategory.EMAIL, name="email_addresses", source=email_addresses
    )
    register_export_source(
        category=DataCategory.ACCOUNT_RECORDS, name="account", source=account_records
    )
