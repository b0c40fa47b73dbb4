"""Closing the site notice of a policy change: stored server side, so it stays closed on
every device the person logs in from."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from consent.selectors import policy_version_get
from consent.services import dismiss_policy_notice
from privacy_site.auth_user import logged_in_user


@login_required
@require_POST
def dismiss(request: HttpRequest, number: int) -> HttpResponse:
    version = policy_version_get(number=number)
    if version is None:
        return HttpResponseBadRequest("No such version of the policy.")
    dismiss_policy_notice(subject=logged_in_user(request), version=version)
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if target and safe else "/")
