"""Reads of the staff access record: who looked at a person's data, for their copy and
/my-data/ (the role and when, never the staff member's name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from privacy_site.auth_user import AuthUser
from staff_access.models import StaffAccess


def accesses_to(*, subject: AuthUser) -> QuerySet[StaffAccess]:
    """Every access row naming ``subject``, newest first. On PostgreSQL the GIN index on
    ``subject_ids`` answers it."""
    rows = StaffAccess.objects.all()
    if connection.vendor == "postgresql":
        return rows.filter(subject_ids__contains=[subject.pk])
    with connection.cursor() as cursor:  # SQLite, for local runs: json_each
        cursor.execute(
            "SELECT a.id FROM staff_access_staffaccess a, json_each(a.subject_ids) j "
            "WHERE j.value = %s",
            [subject.pk],
        )
        return rows.filter(pk__in=[row[0] for row in cursor.fetchall()])


@dataclass(frozen=True)
class AccessByStaff:
    """One time staff accessed the person's data, as the person is told of it."""

    occurred_at: datetime
    role: str
    action: str
    fields: list[str]


def staff_accesses_for(*, subject: AuthUser) -> list[AccessByStaff]:
    """The times staff accessed ``subject``'s data: when, in which role, what they did and
    which fields; not who."""
    rows = accesses_to(subject=subject).values_list("occurred_at", "role", "action", "fields")
    labels = dict(StaffAccess.Action.choices)
    return [
        AccessByStaff(
            occurred_at=when,
            role=role,
            action=labels.get(action, action),
            fields=[name.replace("_", " ") for name in fields],
        )
        for when, role, action, fields in rows
    ]
