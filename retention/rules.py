"""What a retention rule is: one kind of data (a model, and the fields that go), how long it is
kept, counted from what, what happens then and why. The rules themselves are in
``retention.schedule``, the one place they are declared.

A rule names its model by label (``"consent.CookieConsent"``) and its handler by dotted path,
so this app, low in the layers, imports none of the apps whose data it forgets.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.module_loading import import_string


class Action(enum.StrEnum):
    DELETE = "delete"  # the rows go
    TRIM = "trim"  # the personal fields are emptied; the row stays
    PSEUDONYMISE = "pseudonymise"  # as erasure does it, by the owning app's handler


ACTION_VERBS = {
    Action.DELETE: "deleted",
    Action.TRIM: "trimmed",
    Action.PSEUDONYMISE: "pseudonymised",
}

ACTION_WORDS = {
    Action.DELETE: "deleted",
    Action.TRIM: "personal details removed, the rest kept",
    Action.PSEUDONYMISE: "no longer linked to the person, as on erasure",
}


@dataclass(frozen=True)
class Rule:
    key: str
    model: str
    what: str  # the data, in the words shown to people and staff
    why: str  # why it is kept that long, shown to people and staff
    action: Action
    counted_from: str  # in words: "when the account was opened"
    default_days: int
    # The field (or lookup) the period counts from; rows are due once it is older than
    # the period. A rule whose period is stated per row gives ``due_at`` instead.
    anchor: str = ""
    due_at: Callable[[], Any] | None = None
    period_words: str = ""  # for rules with a period per row: how it is set
    # TRIM: each field and the value it is given.
    trim: Mapping[str, Any] = field(default_factory=dict)
    # PSEUDONYMISE: a function of a list of primary keys, run in the batch's transaction.
    handler: str = ""
    # The rows the rule covers and has not dealt with yet (a trimmed row no longer matches).
    pending: Callable[[], Q] | None = None
    # The lookup to the person's account id, for legal holds; "" when rows name nobody.
    person: str = ""
    batch_size: int = 0  # 0: RETENTION_BATCH_SIZE
    fields: tuple[str, ...] = ()  # the fields that go, for the schedule's readers

    @property
    def setting(self) -> str:
        return f"RETENTION_{self.key.upper()}_DAYS"

    @property
    def days(self) -> int:
        return int(getattr(settings, self.setting, self.default_days))

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.days)

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    @property
    def batch(self) -> int:
        return self.batch_size or settings.RETENTION_BATCH_SIZE

    def cutoff(self, now: datetime) -> datetime:
        """Rows counted from before this time are due (for a per-row period: ``now``)."""
        return now if self.due_at is not None else now - self.period

    def covered(self) -> models.QuerySet[Any]:
        """Every row this rule still has to deal with some day."""
        rows = self.model_class._default_manager.all()
        if self.pending is not None:
            rows = rows.filter(self.pending())
        return rows

    def due(self, now: datetime) -> models.QuerySet[Any]:
        """The rows due now, held or not."""
        rows = self.covered()
        if self.due_at is not None:
            return rows.alias(_due_at=self.due_at()).filter(_due_at__lte=now)
        return rows.filter(**{f"{self.anchor}__lt": self.cutoff(now)})

    def kept_for(self) -> str:
        """The period in words: "30 days from when the account was opened"."""
        if self.due_at is not None:
            return f"for {self.period_words}, counted from {self.counted_from}"
        if self.days == 0:
            return f"until {self.counted_from}"
        return f"for {_days_in_words(self.days)} from {self.counted_from}"

    def apply(self, pks: list[Any]) -> int:
        """Forget these rows (already selected, locked and due); how many were changed."""
        rows = self.model_class._default_manager.filter(pk__in=pks)
        if self.action is Action.DELETE:
            _, per_model = rows.delete()
            return per_model.get(self.model_class._meta.label, 0)
        if self.action is Action.TRIM:
            return rows.update(**dict(self.trim))
        handler: Callable[[list[Any]], int] = import_string(self.handler)
        return handler(pks)


def _days_in_words(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return "1 year" if years == 1 else f"{years} years"
    if days % 30 == 0 and days >= 60:
        return f"{days // 30} months"
    return "1 day" if days == 1 else f"{days} days"
