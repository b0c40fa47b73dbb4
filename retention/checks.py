"""System checks: every period is a whole number of days, not negative; batches are bounded;
and every rule names a model, anchor and fields that exist (a schema change that breaks a
rule stops ``manage.py check``, not a night's job)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import FieldDoesNotExist

from retention.schedule import RULES

MAX_BATCH = 10_000


@register()
def check_retention(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    for entry in RULES:
        days = getattr(settings, entry.setting, entry.default_days)
        if not isinstance(days, int) or days < 0:
            errors.append(
                Error(
                    f"{entry.setting} must be a whole number of days, 0 or more.",
                    id="retention.E001",
                )
            )
        try:
            model = apps.get_model(entry.model)
        except LookupError:
            errors.append(Error(f"Rule {entry.key}: no model {entry.model}.", id="retention.E002"))
            continue
        names = list(entry.trim)
        if entry.anchor:
            names.append(entry.anchor.split("__")[0])
        if entry.person and entry.person != "pk":
            names.append(entry.person.split("__")[0])
        for name in names:
            try:
                model._meta.get_field(name)
            except FieldDoesNotExist:
                errors.append(
                    Error(
                        f"Rule {entry.key}: {entry.model} has no field {name}.", id="retention.E003"
                    )
                )
    batch = settings.RETENTION_BATCH_SIZE
    if not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        errors.append(
            Error(f"RETENTION_BATCH_SIZE must be from 1 to {MAX_BATCH}.", id="retention.E004")
        )
    return errors
