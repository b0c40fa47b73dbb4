"""The API's cursor pagination, with a cursor's position checked before it reaches a query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView


class CheckedCursorPagination(CursorPagination):
    """DRF's cursor pagination, but a cursor whose position is no value of the ordering field
    (a hand-made ``p=abc`` for an id, say) is the same 404 as any other invalid cursor.

    DRF checks that a cursor decodes, not what its position holds; the position goes straight
    into ``filter(id__lt=...)``, where Django refuses it with an error (a 500).
    """

    def paginate_queryset(
        self,
        queryset: QuerySet[Any, Any] | Sequence[Any],
        request: Request,
        view: APIView | None = None,
    ) -> list[Any] | None:
        self._model = getattr(queryset, "model", None)
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None or self._model is None:
            return cursor
        name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation: nothing to check it against
            return cursor
        try:
            field.to_python(cursor.position)
        except ValidationError:
            raise NotFound(self.invalid_cursor_message) from None
        return cursor
