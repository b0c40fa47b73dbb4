"""Every write of the staff access app: the access rows and the sign-in events, and erasure's
one change to them. Nothing else writes these tables; nothing updates or deletes their rows
(the PostgreSQL triggers refuse it), erasure's emptying of search terms aside."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from staff_access.models import StaffAccess, StaffSignInEvent
from staff_access.roles import role_of

SEARCH_TERM_LENGTH = StaffAccess._meta.get_field("search_term").max_length or 200


def record_access(
    *,
    staff: AuthUser,
    action: str,
    page: str,
    subject_ids: Iterable[int],
    fields: Iterable[str],
    search_term: str = "",
    role: str | None = None,
) -> StaffAccess:
    """One row: ``staff`` (in ``role``, found from their groups if not given) did ``action``
    on ``page`` to the data of every person in ``subject_ids`` (each once, in the order
    given), seeing or changing ``fields``. One INSERT."""
    if action not in StaffAccess.Action.values:
        raise ValueError(f"Unknown access action {action!r}.")
    people = list(dict.fromkeys(int(pk) for pk in subject_ids))
    return StaffAccess.objects.create(
        staff=staff,
        role=role if role is not None else role_of(staff),
        action=action,
        page=page[:200],
        subject_ids=people,
        subject_count=len(people),
        fields=list(dict.fromkeys(str(field) for field in fields)),
        search_term=search_term[:SEARCH_TERM_LENGTH],
    )


def record_sign_in_event(
    *,
    staff: AuthUser,
    kind: str,
    detail: str = "",
    kept_session: str = "",
    occurred_at: datetime | None = None,
) -> StaffSignInEvent:
    """One sign-in security event of ``staff``."""
    if kind not in StaffSignInEvent.Kind.values:
        raise ValueError(f"Unknown sign-in event {kind!r}.")
    return StaffSignInEvent.objects.create(
        staff=staff,
        kind=kind,
        detail=detail[:200],
        kept_session=kept_session,
        occurred_at=occurred_at or timezone.now(),
    )


@transaction.atomic
def blank_search_terms_naming(*, subject: AuthUser) -> int:
    """Erasure: empty the search term of every access row naming ``subject`` (what staff
    typed may have been the person's name or address); who looked, when, in which role and
    at which fields stay. The PostgreSQL trigger lets exactly this update through."""
    rows = StaffAccess.objects.exclude(search_term="")
    if connection.vendor == "postgresql":
        rows = rows.filter(subject_ids__contains=[subject.pk])
    else:
        rows = rows.filter(pk__in=_ids_naming(subject.pk))
    return rows.update(search_term="")


def _ids_naming(subject_id: int) -> list[int]:
    """SQLite (local runs only): the access rows naming ``subject_id``, through json_each."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.id FROM staff_access_staffaccess a, json_each(a.subject_ids) j "
            "WHERE j.value = %s",
            [subject_id],
        )
        return [row[0] for row in cursor.fetchall()]
