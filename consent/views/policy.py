"""The privacy policy: the version in force, and one version with its changes. (The history
of every version is a page of the communications app: it lists business transitions too.)"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from consent.policy_diff import policy_diff
from consent.selectors import policy_version_get, previous_policy_version
from consent.services import ConsentError, current_policy_version


def _not_found(request: HttpRequest, number: int | None = None) -> HttpResponse:
    return render(request, "consent/policy_not_found.html", {"number": number}, status=404)


@require_safe
def current(request: HttpRequest) -> HttpResponse:
    try:
        version = current_policy_version()
    except ConsentError:
        return _not_found(request)
    return render(request, "consent/policy_current.html", {"version": version})


@require_safe
def version(request: HttpRequest, number: int) -> HttpResponse:
    policy = policy_version_get(number=number)
    if policy is None:
        return _not_found(request, number)
    previous = previous_policy_version(policy)
    context = {
        "version": policy,
        "previous": previous,
        "hunks": policy_diff(previous.text, policy.text) if previous else [],
    }
    return render(request, "consent/policy_version.html", context)
