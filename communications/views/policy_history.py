"""The history of the privacy policy: every version published, and the business transitions
announced. It shows the records of two apps, consent's versions and this app's transitions,
so it lives here, in the higher one."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from consent.selectors import policy_history


@require_safe
def history(request: HttpRequest) -> HttpResponse:
    return render(request, "communications/policy_history.html", {"versions": policy_history()})
