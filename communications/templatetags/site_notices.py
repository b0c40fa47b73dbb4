"""The prominent notices the policy promises: a material policy change (home page for
everyone; every page for logged-in people until they close it) and a business transition
(every page, from its announcement to its effective date)."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from django import template
from django.conf import settings
from django.utils import timezone

from communications.models import BusinessTransition
from consent.models import PolicyNoticeDismissal, PolicyVersion

register = template.Library()


@dataclass(frozen=True)
class _Notices:
    version: PolicyVersion | None  # the newest version that changed more than wording
    transitions: list[BusinessTransition]  # announced, not yet past their effective date
    day: datetime.date
    read_at: float


_notices: _Notices | None = None


def _site_notices() -> _Notices:
    global _notices
    today, now = timezone.localdate(), time.monotonic()
    known = _notices
    if known is not None and known.day == today and now - known.read_at < settings.SITE_NOTICES_TTL:
        return known
    # The newest version that changed more than wording, current or not: an editorial
    # correction published after a practice change leaves that change's notice up until
    # each person closes it.
    version = (
        PolicyVersion.objects.exclude(change_type=PolicyVersion.ChangeType.EDITORIAL)
        .order_by("-number")
        .defer("text")
        .first()
    )
    _notices = _Notices(version, list(current_transitions()), today, now)
    return _notices


def forget_site_notices(**kwargs: object) -> None:
    """Read the notices again on the next page (a version or transition was saved)."""
    global _notices
    _notices = None


def policy_notice_for(request) -> PolicyVersion | None:
    """The newest version that changed more than wording, if this page should show it."""
    version = _site_notices().version
    if version is None:
        return None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        closed = PolicyNoticeDismissal.objects.filter(subject=user, version=version).exists()
        return None if closed else version
    return version if request.path == "/" else None


def current_transitions():
    today = timezone.localdate()
    return BusinessTransition.objects.filter(announced_on__lte=today, effective_on__gte=today)


@register.inclusion_tag("communications/_site_notices.html", takes_context=True)
def site_notices(context) -> dict:
    request = context.get("request")
    if request is None or request.path.startswith("/admin/"):
        return {}
    return {
        "policy_notice": policy_notice_for(request),
        "transitions": _site_notices().transitions,
        "request": request,
        "user": context.get("user"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("communications/_transition_history.html")
def transition_history() -> dict:
    return {"transitions": BusinessTransition.objects.select_related("use_change_version")}
