"""Need to know: one declaration per model of which role sees which personal field.

Each app declares its models in its own ``need_to_know`` module (found like ``admin``
modules)::

    declare(
        "sharing.Order",
        delivery_name=seen_by(DISPATCH, WEB_SALES, PRIVACY_OFFICER),
        postcode=seen_by(DISPATCH, PRIVACY_OFFICER),
        customer=seen_by(WEB_SALES, PRIVACY_OFFICER),
    )

A field not declared is not personal: everyone who may see the model sees it. A declared field
is shown in full to the roles named, and to the others either masked (``masked_as=``, e.g.
``mask_address``) or not at all. The admin (``privacy_site.need_to_know_admin``) and the API
(``privacy_site.need_to_know_api``) read the declarations, for lists, pages, search, filters,
ordering, exports and serialised fields alike: a field one may not see can't be searched,
filtered or ordered by either, through any relation (``customer__email`` is the ``customer``
of the order, then the ``email`` of the user).

Superusers see everything (they exist for operations; the admin warns them). A request with a
shop system's API key sees what ``SHOP_SYSTEMS`` is declared to see.

Any app may import this module; it imports nothing from the apps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import Model
from django.utils.module_loading import autodiscover_modules

from privacy_site.roles import SHOP_SYSTEMS, STAFF_ROLES, roles_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    from privacy_site.auth_user import AuthUser

Mask = Callable[[Any], str]
KNOWN_ROLES = frozenset((*STAFF_ROLES, SHOP_SYSTEMS))


@dataclass(frozen=True)
class Sees:
    """Who sees one field: ``roles`` in full; everyone else ``masked_as(value)``, or nothing."""

    roles: frozenset[str]
    masked_as: Mask | None = None


def seen_by(*roles: str, masked_as: Mask | None = None) -> Sees:
    unknown = set(roles) - KNOWN_ROLES
    if unknown:
        raise ImproperlyConfigured(f"Unknown roles {sorted(unknown)}; the roles are {KNOWN_ROLES}.")
    return Sees(frozenset(roles), masked_as)


@dataclass(frozen=True)
class Declaration:
    model: str
    fields: Mapping[str, Sees] = field(default_factory=dict)


_declarations: dict[str, Declaration] = {}
_discovered = False


def declare(model: str, **fields: Sees) -> Declaration:
    """Declare the personal fields of ``model`` (``"app_label.ModelName"``): once per model.

    Names are the model's fields, or names an admin or serializer shows computed from them
    (``customer_phone`` on an order)."""
    key = model.lower()
    if key in _declarations:
        raise ImproperlyConfigured(f"{model} is declared twice; one declaration per model.")
    declaration = Declaration(model, dict(fields))
    _declarations[key] = declaration
    return declaration


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("need_to_know")


def declaration_for(model: type[Model] | str) -> Declaration | None:
    _discover()
    label = model if isinstance(model, str) else model._meta.label
    return _declarations.get(label.lower())


def declarations() -> list[Declaration]:
    _discover()
    return list(_declarations.values())


def _model(model: type[Model] | str) -> type[Model]:
    return apps.get_model(model) if isinstance(model, str) else model


@dataclass(frozen=True)
class Viewer:
    """Whoever is looking: the roles they hold, or ``everything`` (a superuser)."""

    roles: frozenset[str]
    everything: bool = False

    def sees(self, rule: Sees) -> bool:
        return self.everything or bool(self.roles & rule.roles)

    def rule(self, model: type[Model] | str, name: str) -> Sees | None:
        """The declaration's rule for ``name``, or None if it is not personal."""
        declaration = declaration_for(model)
        return declaration.fields.get(name) if declaration else None

    def may_see(self, model: type[Model] | str, name: str) -> bool:
        rule = self.rule(model, name)
        return rule is None or self.sees(rule)

    def mask_of(self, model: type[Model] | str, name: str) -> Mask | None:
        """What this viewer is shown instead of ``name``'s value; None: nothing."""
        rule = self.rule(model, name)
        return rule.masked_as if rule is not None else None

    def may_see_path(self, model: type[Model] | str, path: str) -> bool:
        """Every field along a lookup (``customer__email__startswith``): each one visible.
        The first part that is no field (a lookup such as ``startswith``, a JSON key) ends
        the walk: what it reads belongs to the field before it."""
        current = _model(model)
        for part in path.split("__"):
            if not self.may_see(current, part):
                return False
            try:
                model_field = current._meta.get_field(part)
            except FieldDoesNotExist:
                return True
            # ``customer_id`` is the column of ``customer``: the declaration names the field.
            if model_field.name != part and not self.may_see(current, model_field.name):
                return False
            related = model_field.related_model
            if not model_field.is_relation or related is None or isinstance(related, str):
                return True
            current = related
        return True

    def may_see_all(self, model: type[Model] | str, paths: Iterable[str]) -> bool:
        return all(self.may_see_path(model, path) for path in paths)


NOBODY = Viewer(frozenset())
EVERYTHING = Viewer(frozenset(KNOWN_ROLES), everything=True)


def viewer_of_user(user: AuthUser | AnonymousUser | None) -> Viewer:
    if user is not None and user.is_authenticated and user.is_active and user.is_superuser:
        return EVERYTHING
    return Viewer(roles_of(user))


def viewer_of(request: HttpRequest | None, *, api_key: object = None) -> Viewer:
    """The viewer behind a request: its user's roles, or ``SHOP_SYSTEMS`` for a system's API
    key; nobody for no request at all (a field is never shown by mistake)."""
    if api_key is not None:
        return Viewer(frozenset({SHOP_SYSTEMS}))
    if request is None:
        return NOBODY
    return viewer_of_user(getattr(request, "user", None))


def shows(*paths: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark an admin column or serializer method computed from ``paths`` of its model (say
    ``@shows("subject__email")``): it is shown only to those who may see every one of them,
    masked as the last path's field is masked, or left out."""

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        function.need_to_know_paths = paths  # type: ignore[attr-defined]
        return function

    return mark


def paths_shown_by(function: object) -> tuple[str, ...]:
    return tuple(getattr(function, "need_to_know_paths", ()))


def mask_of_path(viewer: Viewer, model: type[Model] | str, path: str) -> Mask | None:
    """The mask of the field a path ends on (``subject__email``: the user's email)."""
    current = _model(model)
    parts = path.split("__")
    for part in parts[:-1]:
        try:
            related = current._meta.get_field(part).related_model
        except FieldDoesNotExist:
            return None
        if related is None or isinstance(related, str):
            return None
        current = related
    return viewer.mask_of(current, parts[-1])
