"""What a request showed or changed of people's data, gathered while it runs and written as
one row when it ends (``StaffAccessMiddleware``): a request writes at most one access row,
however many people, fields or steps it touched.

Views, admin classes and API views call ``note_access``; only requests of active staff are
noted. Several notes in one request merge: every person and field, the search term, and the
weightiest action (a change outweighs an export, an export a search, a search a view).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from privacy_site.staff import is_active_staff
from staff_access.models import StaffAccess
from staff_access.services import record_access

Action = StaffAccess.Action
WEIGHT = {Action.LIST: 0, Action.VIEW: 1, Action.SEARCH: 2, Action.EXPORT: 3, Action.CHANGE: 4}
_NOTE = "_staff_access_note"


@dataclass
class AccessNote:
    action: str
    page: str
    subject_ids: dict[int, None] = field(default_factory=dict)  # ordered set
    fields: dict[str, None] = field(default_factory=dict)
    search_term: str = ""


def _django_request(request: Any) -> HttpRequest:
    """The HttpRequest behind a REST framework Request (which keeps it as ``_request``)."""
    return getattr(request, "_request", request)


def note_access(
    request: Any,
    *,
    action: str,
    page: str,
    subject_ids: Iterable[int | None],
    fields: Iterable[str],
    search_term: str = "",
) -> None:
    """Note that this request did ``action`` on ``page`` to the data of ``subject_ids``
    (None entries, rows about nobody, are skipped), showing or changing ``fields``. Nothing
    is noted for anyone but active staff, nor when no person's data was involved."""
    if not is_active_staff(request.user):
        return
    people = [pk for pk in subject_ids if pk is not None]
    if not people:
        return
    http_request = _django_request(request)
    note: AccessNote | None = getattr(http_request, _NOTE, None)
    if note is None:
        note = AccessNote(action=action, page=page)
        setattr(http_request, _NOTE, note)
    elif WEIGHT[Action(action)] > WEIGHT[Action(note.action)]:
        note.action, note.page = action, page
    note.subject_ids.update(dict.fromkeys(people))
    note.fields.update(dict.fromkeys(fields))
    if search_term and not note.search_term:
        note.search_term = search_term


def noted_access(request: HttpRequest) -> AccessNote | None:
    return getattr(request, _NOTE, None)


def write_noted_access(request: HttpRequest) -> StaffAccess | None:
    """Write the request's note as its one access row, once; None if nothing was noted."""
    note: AccessNote | None = getattr(request, _NOTE, None)
    if note is None:
        return None
    delattr(request, _NOTE)
    return record_access(
        staff=request.user,  # type: ignore[arg-type]  # noted only for active staff
        action=note.action,
        page=note.page,
        subject_ids=note.subject_ids,
        fields=note.fields,
        search_term=note.search_term,
    )
