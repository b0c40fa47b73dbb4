"""Reads of the consent app that are more than a one-model filter."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from consent.models import ConsentEvent, CurrentConsent, PolicyVersion, Purpose


def audience_for(
    *,
    purpose: Purpose,
    after: int = 0,
    limit: int = 1000,
    subjects: QuerySet | None = None,
    legal_basis: str | None = None,
) -> QuerySet:
    """Ids of active subjects who currently grant ``purpose``, ascending, after id ``after``.

    Keyset pagination: pass the last id of one batch as ``after`` for the next. The scan walks
    the partial index ``consent_current_audience`` (purpose, subject WHERE granted), so each
    batch costs the same however deep into a million subjects it starts. A mandatory purpose
    has no consent rows: its audience is every active account, walked by primary key.
    ``subjects`` narrows the audience to some users (a campaign's segment); ``legal_basis``
    to consents given on that basis.
    """
    users = subjects if subjects is not None else get_user_model().objects.all()
    # The bound is repeated on the users' side so PostgreSQL's merge join starts both index
    # scans at ``after`` instead of walking every user before it.
    active = users.filter(is_active=True, pk__gt=after)
    if not purpose.is_optional:
        return active.order_by("pk").values_list("pk", flat=True)[:limit]
    granted = CurrentConsent.objects.filter(
        purpose=purpose, granted=True, subject_id__gt=after, subject__in=active
    )
    if legal_basis:
        granted = granted.filter(legal_basis=legal_basis)
    return granted.order_by("subject_id").values_list("subject_id", flat=True)[:limit]


def consent_history_for(*, subject: AbstractBaseUser) -> QuerySet[ConsentEvent]:
    """The subject's own decisions, newest first, with what they need for display."""
    return (
        ConsentEvent.objects.filter(subject=subject)
        .select_related("purpose", "policy_version")
        .order_by("-occurred_at", "-id")
    )


def optional_purposes() -> QuerySet[Purpose]:
    return Purpose.objects.filter(is_optional=True)


def policy_version_get(*, number: int) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(number=number).first()


def previous_policy_version(version: PolicyVersion) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(number__lt=version.number).order_by("-number").first()


def optional_purpose_get(*, code: str) -> Purpose | None:
    """The optional purpose with this code; None for an unknown or mandatory one."""
    return optional_purposes().filter(code=code).first()
