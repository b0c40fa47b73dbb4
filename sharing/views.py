"""The person's own view of who received their data."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from privacy_site.auth_user import logged_in_user
from sharing.selectors import disclosures_by_party
from staff_access.selectors import staff_accesses_for


@require_safe
@never_cache
@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    """Who received the logged-in person's data, what, why and when, grouped by recipient;
    and each time our staff accessed it (when, in which role; not who)."""
    user = logged_in_user(request)
    return render(
        request,
        "sharing/my_data.html",
        {
            "recipients": disclosures_by_party(user=user),
            "staff_accesses": staff_accesses_for(subject=user),
        },
    )
