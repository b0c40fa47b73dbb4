"""The choice on a new use of data (a use-change version), from the email's signed link
without logging in, or once after logging in; and what happens in between is nothing: the
new use stays off until the person says yes."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from consent.models import Purpose
from consent.provenance import Provenance
from consent.selectors import unanswered_purposes, use_change_versions_unanswered_by
from consent.services import ConsentSource, record_decisions
from consent.tokens import TokenError, TokenUse, read_token
from privacy_site.auth_user import AuthUser, logged_in_user

ANSWERS = {"yes": True, "no": False}


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else "/"


def open_questions(subject: AuthUser) -> list[tuple[object, list[Purpose]]]:
    """Each use-change version with the new purposes ``subject`` has not answered."""
    return [
        (version, list(unanswered_purposes(subject=subject, version=version)))
        for version in use_change_versions_unanswered_by(subject=subject)
    ]


def _choice_page(request: HttpRequest, *, subject: AuthUser, after_login: bool) -> HttpResponse:
    questions = open_questions(subject)
    purposes = [purpose for _, group in questions for purpose in group]
    context = {"questions": questions, "after_login": after_login, "next": _safe_next(request)}
    if request.method != "POST":
        return render(request, "communications/policy_choice.html", context)
    answers = {}
    for purpose in purposes:
        value = request.POST.get(f"purpose_{purpose.code}", "")
        if value and value not in ANSWERS:
            context["error"] = "Answer yes or no for each use, or leave it unanswered."
            return render(request, "communications/policy_choice.html", context, status=400)
        if value:
            answers[purpose.code] = ANSWERS[value]
    saved = record_decisions(
        subject=subject,
        choices=answers,
        source=ConsentSource.RECONSENT,
        provenance=Provenance.from_request(request),
        record_refusals=True,
    )
    context.update(
        saved=True,
        answered=[(p, answers[p.code]) for p in purposes if p.code in answers],
        recorded=len(saved),
        questions=open_questions(subject),
    )
    return render(request, "communications/policy_choice_saved.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
def choice_by_token(request: HttpRequest, token: str) -> HttpResponse:
    """From the notice email: the signed link is the credential, no login needed."""
    try:
        claim = read_token(token, use=TokenUse.PREFERENCES)
    except TokenError:
        return render(request, "consent/token_invalid.html", status=400)
    if not claim.subject.is_active:
        # Gone: never asked, and the data never used in the new way.
        return render(request, "consent/token_invalid.html", status=400)
    return _choice_page(request, subject=claim.subject, after_login=False)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def choice(request: HttpRequest) -> HttpResponse:
    """The same choice for a logged-in person; after login it is offered once, skippable."""
    return _choice_page(request, subject=logged_in_user(request), after_login=True)
