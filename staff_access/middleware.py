"""Writes each request's access row (see ``staff_access.recording``) and keeps staff sessions
short (see ``staff_access.sessions``)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from privacy_site.staff import is_active_staff
from staff_access.recording import write_noted_access

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class StaffAccessMiddleware:
    """After the view: the request's one access row, if it showed or changed anyone's data.

    A staff member's change in the admin (any unsafe method under ``/admin/``) runs in one
    transaction with its access row: the change is not kept unless the row is. A read's row
    is written before the response leaves (a streamed export's before its first line); if it
    can't be written, the response is an error, not the data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._admin_prefix: str | None = None

    def _in_admin(self, request: HttpRequest) -> bool:
        if self._admin_prefix is None:
            self._admin_prefix = reverse("admin:index")
        return request.path.startswith(self._admin_prefix)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method not in SAFE_METHODS
            and is_active_staff(request.user)
            and self._in_admin(request)
        ):
            with transaction.atomic():
                response = self.get_response(request)
                write_noted_access(request)
            return response
        response = self.get_response(request)
        write_noted_access(request)
        return response
