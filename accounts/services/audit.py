"""The audit trail of personal data: append-only ``AuditEvent`` rows.

Only these functions write it, and only inside the transaction of the change they record (the
callers are services holding ``transaction.atomic``). There is no update or delete path: the
one exception is ``redact_audit_values_for``, which erasure uses to blank the values while
keeping who changed what, when."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEvent, User

# Fields whose values never reach the audit trail: only the fact that they changed.
SECRET_FIELDS = frozenset({"password"})


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


def record_changes(
    *,
    subject: User,
    actor: User | None,
    changes: Iterable[FieldChange],
    source: str,
    occurred_at: datetime | None = None,
) -> list[AuditEvent]:
    """One row per changed field, sharing one ``change_id``. Secret fields are recorded with
    no values, whatever the caller passed."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Audit rows are written inside the transaction of the change.")
    change_id = uuid.uuid4()
    when = occurred_at or timezone.now()
    rows = []
    for change in changes:
        secret = change.field in SECRET_FIELDS
        rows.append(
            AuditEvent(
                subject=subject,
                actor=actor,
                change_id=change_id,
                field=change.field,
                is_secret=secret,
                old_value=None if secret else change.old,
                new_value=None if secret else change.new,
                source=source,
                occurred_at=when,
            )
        )
    return AuditEvent.objects.bulk_create(rows)


@transaction.atomic
def record_secret_change(
    *, subject: User, actor: User | None, field: str, source: str
) -> AuditEvent:
    """A secret changed (``field="password"``): the row says so, with no values. For the
    password change and reset flows to call in their own transaction."""
    if field not in SECRET_FIELDS:
        raise ValueError(f"{field!r} is not a secret field; use record_changes.")
    (row,) = record_changes(
        subject=subject,
        actor=actor,
        changes=[FieldChange(field=field, old="", new="")],
        source=source,
    )
    return row


@transaction.atomic
def redact_audit_values_for(*, subject: User) -> int:
    """Erasure: blank the old and new values of every row about ``subject``; the rows stay.
    The PostgreSQL trigger lets exactly this update through and refuses every other."""
    return AuditEvent.objects.filter(subject=subject, values_redacted=False).update(
        old_value=None, new_value=None, values_redacted=True
    )
