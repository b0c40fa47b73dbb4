"""The admin of every model holding a person's data records who looked: mix
``PersonalDataAdmin`` in before ``admin.ModelAdmin`` (or another admin base) and name the
row's person in ``person_field``.

What is noted (one access row per request, see ``staff_access.recording``):

- the list: the people on the page shown, and the columns (a search: the term too);
- a record's page: its person, and the fields on the page; its history;
- a change, an addition or a deletion: the person, and the fields changed;
- an export: ``note_export`` from the export's view or action, with the people in it.

Any app's admin may import this module: the staff access app is the lowest layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from staff_access.models import StaffAccess
from staff_access.recording import note_access

Action = StaffAccess.Action
SKIPPED_COLUMNS = frozenset({"action_checkbox", "__str__"})


def _name(field: Any) -> str:
    return getattr(field, "__name__", None) or str(field)


def _flatten(fields: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for entry in fields:
        if isinstance(entry, list | tuple):
            names.extend(_flatten(entry))
        else:
            names.append(_name(entry))
    return names


def _changed_fields(message: Any) -> list[str]:
    """The field names in Django's change message ([{"changed": {"fields": [...]}}])."""
    if not isinstance(message, list):
        return []
    names: list[str] = []
    for part in message:
        for verb in ("changed", "added", "deleted"):
            detail = part.get(verb) if isinstance(part, dict) else None
            if isinstance(detail, dict):
                names.extend(detail.get("fields", []) or [detail.get("name", verb)])
    return [str(name) for name in names]


if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object


class PersonalDataAdmin(_AdminBase):
    """Admin of a model whose rows hold a person's data; every look and change is recorded.

    ``person_field``: the attribute of a row holding its person's account id (``"pk"`` for
    the user model itself, ``"user_id"``, ``"subject_id"``...). Override ``people_in`` where
    a row names several people."""

    person_field: str = "pk"
    # False where the list's columns show nobody's data (only a record's page does).
    list_shows_people: bool = True

    # -- whose data -------------------------------------------------------------------------

    def people_in(self, rows: Iterable[Model]) -> list[int | None]:
        return [getattr(row, self.person_field) for row in rows]

    def people_in_queryset(self, queryset: QuerySet[Any]) -> list[int | None]:
        """The people of every row of ``queryset`` (an export), in one query."""
        lookup = "pk" if self.person_field == "pk" else self.person_field.removesuffix("_id")
        return list(queryset.order_by().values_list(lookup, flat=True).distinct())

    def _page(self, view: str) -> str:
        opts = self.opts
        return f"admin:{opts.app_label}_{opts.model_name}_{view}"

    # -- what is noted ----------------------------------------------------------------------

    def note_export(
        self, request: HttpRequest, queryset: QuerySet[Any], *, fields: Iterable[str], page: str
    ) -> None:
        """For an export's view or action: every person in ``queryset``, the columns."""
        note_access(
            request,
            action=Action.EXPORT,
            page=page,
            subject_ids=self.people_in_queryset(queryset),
            fields=fields,
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        changelist = context.get("cl")
        if changelist is not None and self.list_shows_people:
            # Evaluating the page's rows here costs no query: the template reuses them.
            note_access(
                request,
                action=Action.SEARCH if changelist.query else Action.LIST,
                page=self._page("changelist"),
                subject_ids=self.people_in(changelist.result_list),
                fields=[
                    _name(column)
                    for column in changelist.list_display
                    if _name(column) not in SKIPPED_COLUMNS
                ],
                search_term=changelist.query,
            )
        return response

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Model | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            note_access(
                request,
                action=Action.VIEW,
                page=self._page("change"),
                subject_ids=self.people_in([obj]),
                fields=_flatten(self.get_fields(request, obj)),
            )
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        obj = (getattr(response, "context_data", None) or {}).get("object")
        if obj is not None:
            note_access(
                request,
                action=Action.VIEW,
                page=self._page("history"),
                subject_ids=self.people_in([obj]),
                fields=["history"],
            )
        return response

    def _note_change(self, request: HttpRequest, obj: Model, fields: list[str]) -> None:
        note_access(
            request,
            action=Action.CHANGE,
            page=self._page("change"),
            subject_ids=self.people_in([obj]),
            fields=fields,
        )

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        self._note_change(request, obj, _changed_fields(message) or ["added"])
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        self._note_change(request, obj, _changed_fields(message) or ["changed"])
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        note_access(
            request,
            action=Action.CHANGE,
            page=self._page("delete"),
            subject_ids=self.people_in(queryset),
            fields=["deleted"],
        )
        return super().log_deletions(request, queryset)


def personal_data_models(site: admin.AdminSite | None = None) -> list[type[Model]]:
    """The models whose admin records access: the ones holding people's data."""
    registry = (site or admin.site)._registry
    return [
        model
        for model, model_admin in registry.items()
        if isinstance(model_admin, PersonalDataAdmin)
    ]
