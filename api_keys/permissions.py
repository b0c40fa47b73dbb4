"""Letting a key through an endpoint: the scope its permission class names."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api_keys.models import Scope, SystemAPIKey


def api_key_of(request: Request) -> SystemAPIKey | None:
    """The system key the request authenticated with, if any."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, SystemAPIKey) else None


def key_has_scope(request: Request, scope: Scope | None) -> bool:
    """True when the request came with a usable key that holds ``scope``."""
    api_key = api_key_of(request)
    return scope is not None and api_key is not None and api_key.has_scope(scope)


class APIKeyScopePermission(BasePermission):
    """Base for an endpoint's permission that also lets a key with ``api_key_scope`` through.

    Subclasses keep their rule for people in ``has_permission`` and add
    ``or key_has_scope(request, self.api_key_scope)``; the OpenAPI schema reads
    ``api_key_scope`` to list the Api-Key scheme only where a key is accepted.
    """

    api_key_scope: Scope | None = None

    def has_permission(self, request: Request, view: Any) -> bool:
        return key_has_scope(request, self.api_key_scope)


def accepted_scopes(view: Any) -> list[str]:
    """The scopes a key may hold to pass the view's permissions (for the schema)."""
    return [
        str(permission.api_key_scope)
        for permission in view.get_permissions()
        if getattr(permission, "api_key_scope", None)
    ]
