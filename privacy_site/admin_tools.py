"""What every app's admin shares: read-only records, rows only a service adds, adopting the row
a service saved, and views of our own (their URLs, and pages about one row in the admin's
frame).

Every app's ``admin`` package may import this module, whatever its layer, because it imports
nothing from the apps: only Django.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Model
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path


class KeptAsRecorded:
    """Nobody changes or deletes a row here, superusers included."""

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyPermissions(KeptAsRecorded):
    """Nobody adds, changes or deletes here, superusers included; the view permission decides
    who sees the rows. For ledgers, audit trails and rows only a service writes."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    """Visible to staff holding the view permission; nobody adds, changes or deletes."""


class ReadOnlyInline(ReadOnlyPermissions):
    """A read-only inline: no blank forms, no delete boxes. Mix in before
    ``admin.TabularInline`` or ``admin.StackedInline`` and name the fields as both ``fields``
    and ``readonly_fields``."""

    extra: int = 0
    max_num: int | None = 0
    can_delete: bool = False


class AddOnlyAdmin(KeptAsRecorded, admin.ModelAdmin):
    """Rows a service adds from ``add_form`` (``save_model`` calls it), then shown with every
    one of ``fields`` read-only: never changed, never deleted (Django's delete would remove a
    row the service recorded). Name ``fields`` as both ``fields`` and ``readonly_fields``."""

    add_form: type[forms.ModelForm[Any]]

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = self.add_form._meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Model | None = None):
        return self.fields if obj is not None else self.add_form._meta.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None):
        return self.readonly_fields if obj is not None else ()


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


def admin_path(
    model_admin: admin.ModelAdmin, route: str, view: Callable[..., HttpResponseBase], action: str
) -> URLPattern:
    """A view of our own in ``get_urls``, behind the admin's login and staff check, named
    ``admin:<app>_<model>_<action>`` like Django's own admin URLs."""
    opts = model_admin.opts
    return path(
        route,
        model_admin.admin_site.admin_view(view),
        name=f"{opts.app_label}_{opts.model_name}_{action}",
    )


def object_or_404(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> Any:
    """The row an admin address names (``object_id`` as the URL has it), from the admin's own
    queryset, or 404: for an id no row has and for one that is no id at all (``abc`` on a
    whole-number key, which ``get_object_or_404`` would let through as a server error)."""
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No {model_admin.opts.verbose_name} has the id {object_id!r}.")
    return obj


def object_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    template: str,
    *,
    original: Model,
    title: str,
    status: int = 200,
    **context: object,
) -> TemplateResponse:
    """A page of our own about the row ``original`` (a preview, a step, a confirmation), in the
    admin's frame: the header, breadcrumbs and sidebar get what Django's own pages get."""
    page = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "original": original,
        **context,
    }
    return TemplateResponse(request, template, page, status=status)
