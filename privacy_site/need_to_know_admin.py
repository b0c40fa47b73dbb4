"""The admin side of need to know: lists, pages, search, filters and ordering computed per
request from the declarations of ``privacy_site.need_to_know``.

Mix ``NeedToKnowAdmin`` in first (``class OrderAdmin(NeedToKnowAdmin, ReadOnlyAdmin)``), and
``NeedToKnowInline`` into inlines. For the member of staff asking:

- a column or a field of a page they may not see is left out, or shown masked (read-only)
  where its declaration says how; a column computed by an admin method names what it shows
  with ``@shows("subject__email")``;
- search runs only over the fields they may see, and the filters in the sidebar too;
- a filter, lookup or ordering in a crafted querystring that reads a field they may not see
  (``?customer__email__startswith=a``) is refused: 400 (Django's ``DisallowedModelAdminLookup``);
- what they may not see never reaches a form: it can't be changed either.

Any app's admin may import this module; it imports nothing from the apps.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.admin.utils import label_for_field
from django.db.models import Model
from django.http import HttpRequest

from privacy_site.need_to_know import (
    Mask,
    Viewer,
    mask_of_path,
    paths_shown_by,
    viewer_of,
)

LOOKUP_PREFIXES = "^=@"


def _masked(label: str, name: str, read: Callable[[Any], Any], mask: Mask) -> Callable[[Any], str]:
    def show(obj: Any) -> str:
        value = read(obj)
        return mask(value) if value not in (None, "") else "—"

    show.__name__ = f"masked_{name}"
    show.short_description = label  # type: ignore[attr-defined]
    return show


class NeedToKnowBase:
    """What ``NeedToKnowAdmin`` and ``NeedToKnowInline`` share: deciding one name."""

    model: type[Model]

    def need_to_know_viewer(self, request: HttpRequest) -> Viewer:
        return viewer_of(request)

    def _masks(self) -> dict[str, Callable[[Any], str]]:
        # One callable per masked name, kept, so the page's fieldsets and read-only fields
        # name the same object.
        cache: dict[str, Callable[[Any], str]] | None = self.__dict__.get("_need_to_know_masks")
        if cache is None:
            cache = self.__dict__["_need_to_know_masks"] = {}
        return cache

    def _paths_of(self, name: object) -> tuple[str, ...] | None:
        """The model paths a column or field shows; None for nothing personal to check."""
        if callable(name):
            return paths_shown_by(name) or None
        assert isinstance(name, str)
        method = getattr(self, name, None)
        if method is not None and callable(method):
            return paths_shown_by(method) or None
        return (name,)

    def shown_as(self, request: HttpRequest, name: Any) -> Any:
        """``name`` itself, its masked stand-in, or None (left out), for this request."""
        paths = self._paths_of(name)
        if paths is None:
            return name
        viewer = self.need_to_know_viewer(request)
        if viewer.may_see_all(self.model, paths):
            return name
        # Masked only where one field is shown and the way to it may be seen.
        mask = mask_of_path(viewer, self.model, paths[0]) if len(paths) == 1 else None
        way = "__".join(paths[0].split("__")[:-1])
        if mask is None or (way and not viewer.may_see_path(self.model, way)):
            return None
        key = name.__name__ if callable(name) else str(name)
        masks = self._masks()
        if key not in masks:
            masks[key] = _masked(self._label(name), key, self._reader(name), mask)
        return masks[key]

    def _label(self, name: Any) -> str:
        return str(label_for_field(name, self.model, self))  # type: ignore[call-overload]

    def _reader(self, name: Any) -> Callable[[Any], Any]:
        if callable(name):
            return name
        method = getattr(self, name, None)
        if method is not None and callable(method):
            return method

        def read(obj: Any) -> Any:
            value = obj
            for part in str(name).split("__"):
                value = getattr(value, part, None) if value is not None else None
            return str(value) if isinstance(value, Model) else value

        return read

    def shown_fields(self, request: HttpRequest, names: Sequence[Any]) -> list[Any]:
        shown = []
        for name in names:
            if isinstance(name, (list, tuple)):  # several fields on one line of a page
                line = [s for s in (self.shown_as(request, n) for n in name) if s is not None]
                if line:
                    shown.append(tuple(line))
                continue
            replacement = self.shown_as(request, name)
            if replacement is not None:
                shown.append(replacement)
        return shown

    # Each hook below filters what the admin class itself computes. They are installed on the
    # instance (``_install``) rather than overridden: an admin class that overrides
    # ``get_readonly_fields`` or ``get_ordering`` without calling ``super()`` is filtered all
    # the same.
    HOOKS: tuple[str, ...] = ("get_fieldsets", "get_readonly_fields")

    def _install(self) -> None:
        for hook in self.HOOKS:
            own = getattr(self, hook)
            check = getattr(self, f"_need_to_know_{hook}")
            setattr(self, hook, _filtered(own, check))

    def _need_to_know_get_fieldsets(
        self, result: Any, request: HttpRequest, obj: Model | None = None, *args: Any
    ) -> Any:
        if obj is None:
            return result  # an empty form to fill in shows nobody's data
        return [
            (title, {**options, "fields": self.shown_fields(request, options.get("fields", ()))})
            for title, options in result
        ]

    def _need_to_know_get_readonly_fields(
        self, result: Any, request: HttpRequest, obj: Model | None = None, *args: Any
    ) -> Any:
        if obj is None:
            return result
        # Every masked stand-in is read-only (a page's were made with its fieldsets, before
        # its form); a stand-in that is not on the page changes nothing.
        return [*self.shown_fields(request, result), *self._masks().values()]


def _filtered(own: Callable[..., Any], check: Callable[..., Any]) -> Callable[..., Any]:
    """``own`` (a bound method), its result passed through ``check``: a bound method itself,
    as Django's admin checks expect, with ``own``'s signature (Django inspects
    ``lookup_allowed`` for its ``request`` argument)."""

    def hook(admin: object, *args: Any, **kwargs: Any) -> Any:
        return check(own(*args, **kwargs), *args, **kwargs)

    signature = inspect.signature(own)
    first = inspect.Parameter("admin", inspect.Parameter.POSITIONAL_ONLY)
    hook.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[first, *signature.parameters.values()]
    )
    hook.__name__ = own.__name__
    return types.MethodType(hook, own.__self__)  # type: ignore[attr-defined]


class NeedToKnowInline(NeedToKnowBase):
    """Mix into an inline before Django's inline class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._install()


class NeedToKnowAdmin(NeedToKnowBase):
    """Mix into a ``ModelAdmin`` before the rest of its bases."""

    HOOKS = (
        *NeedToKnowBase.HOOKS,
        "get_list_display",
        "get_list_display_links",
        "get_search_fields",
        "get_list_filter",
        "get_ordering",
        "get_sortable_by",
        "lookup_allowed",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._install()

    def _need_to_know_get_list_display(self, result: Any, request: HttpRequest) -> Any:
        return self.shown_fields(request, result)

    def _need_to_know_get_list_display_links(
        self, result: Any, request: HttpRequest, list_display: Sequence[Any]
    ) -> Any:
        if result is None:
            return result
        kept = [name for name in result if name in list_display]
        return kept or list(list_display)[:1]

    def _need_to_know_get_search_fields(self, result: Any, request: HttpRequest) -> Any:
        viewer = self.need_to_know_viewer(request)
        return [
            name for name in result if viewer.may_see_path(self.model, name.lstrip(LOOKUP_PREFIXES))
        ]

    def _need_to_know_get_list_filter(self, result: Any, request: HttpRequest) -> Any:
        viewer = self.need_to_know_viewer(request)
        kept = []
        for item in result:
            name = item[0] if isinstance(item, (list, tuple)) else item
            if isinstance(name, str):
                allowed = viewer.may_see_path(self.model, name)
            else:  # a ListFilter class: what it names with @shows
                allowed = viewer.may_see_all(self.model, paths_shown_by(name))
            if allowed:
                kept.append(item)
        return kept

    def _need_to_know_get_ordering(self, result: Any, request: HttpRequest) -> Any:
        viewer = self.need_to_know_viewer(request)
        return [
            name
            for name in result or ()
            if not isinstance(name, str) or viewer.may_see_path(self.model, name.lstrip("-"))
        ]

    def _need_to_know_get_sortable_by(self, result: Any, request: HttpRequest) -> Any:
        viewer = self.need_to_know_viewer(request)
        sortable = []
        for name in result:
            method = getattr(self, name, None) if isinstance(name, str) else name
            order = getattr(method, "admin_order_field", None)
            if isinstance(order, str) and not viewer.may_see_path(self.model, order.lstrip("-")):
                continue
            sortable.append(name)
        return sortable

    def _need_to_know_lookup_allowed(
        self, result: bool, lookup: str, value: str, request: HttpRequest | None = None
    ) -> bool:
        if request is None:
            return False  # no one to ask about: refuse rather than guess
        return result and self.need_to_know_viewer(request).may_see_path(self.model, lookup)
