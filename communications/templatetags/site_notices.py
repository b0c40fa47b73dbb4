"""The prominent notices the policy promises: a material policy change (home page for
everyone; every page for logged-in people until they close it) and a business transition
(every page, from its announcement to its effective date)."""

from __future__ import annotations

from django import template
from django.utils import timezone

from communications.models import BusinessTransition
from consent.models import PolicyNoticeDismissal, PolicyVersion

register = template.Library()


def policy_notice_for(request) -> PolicyVersion | None:
    """The current version, if it changed more than wording and this page should show it."""
    version = (
        PolicyVersion.objects.filter(is_current=True)
        .exclude(change_type=PolicyVersion.ChangeType.EDITORIAL)
        .defer("text")
        .first()
    )
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
        "transitions": list(current_transitions()),
        "request": request,
        "user": context.get("user"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("communications/_transition_history.html")
def transition_history() -> dict:
    return {"transitions": BusinessTransition.objects.select_related("use_change_version")}
