"""What every app's admin shares: read-only record pages and adopting a row a service saved.

Every app's ``admin`` package may import this module, whatever its layer, because it imports
nothing from the apps: only Django.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest


class ReadOnlyPermissions:
    """Nobody adds, changes or deletes here, superusers included; the view permission decides
    who sees the rows. For ledgers, audit trails and rows only a service writes."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    """Visible to staff holding the view permission; nobody adds, changes or deletes."""


class ReadOnlyInline(ReadOnlyPermissions):
    """A read-only inline: no blank forms, no delete boxes. Mix in before
    ``admin.TabularInline`` or ``admin.StackedInline`` and name the fields as both ``fields``
    and ``readonly_fields``."""

    extra = 0
    max_num = 0
    can_delete = False


def adopt_saved(obj: Model, saved: Model) -> None:
    """Make the admin's unsaved ``obj`` the row a service created or saved as ``saved``.

    ``ModelAdmin.save_model`` hands the write to a service (which validates, audits and
    returns its own instance); the admin then goes on with ``obj`` (the log entry, the
    message, the redirect to its page), so ``obj`` takes every column of the saved row and
    counts as saved in the same database."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db
