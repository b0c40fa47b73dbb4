"""``/surveys/``: the surveys and contests open now, and taking part in one. Logged-in people
only; every answer is voluntary unless the question says it is required. Translates the form,
calls ``submit_entry``, renders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from privacy_site.auth_user import logged_in_user
from sharing.models import DataCategory
from surveys import statement
from surveys.forms import EntryForm
from surveys.selectors import entry_of, open_surveys, survey_to_take
from surveys.services.draws import WINNER_CATEGORIES
from surveys.services.entries import EntryError, is_open, submit_entry


@require_http_methods(["GET", "HEAD"])
@never_cache
@login_required
def survey_list(request: HttpRequest) -> HttpResponse:
    surveys = list(open_surveys(person=logged_in_user(request)))
    return render(request, "surveys/list.html", {"surveys": surveys})


def _shared_in_words() -> str:
    labels = dict(DataCategory.choices)
    names = [labels[category].lower() for category in WINNER_CATEGORIES]
    return ", ".join(names[:-1]) + " and " + names[-1]


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@login_required
def take_survey(request: HttpRequest, survey_id: int) -> HttpResponse:
    person = logged_in_user(request)
    survey = survey_to_take(survey_id=survey_id)
    entry = entry_of(survey=survey, person=person)
    if entry is not None or not is_open(survey):
        return render(request, "surveys/closed.html", {"survey": survey, "entry": entry})
    sponsor_text = statement.sponsor_sentence() if survey.is_contest else ""
    form = EntryForm(request.POST if request.method == "POST" else None, survey=survey)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                submit_entry(
                    survey=survey,
                    person=person,
                    answers=form.answers(),
                    postcode_district=form.cleaned_data.get("postcode_district", ""),
                    age_band=form.cleaned_data.get("age_band", ""),
                    contact=form.contact(),
                    statement_digest=request.POST.get("statement", ""),
                )
            except EntryError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    "Thank you: your entry is in."
                    if survey.is_contest
                    else "Thank you for your answers.",
                )
                return redirect("surveys:take", survey_id=survey.pk)
        status = 400
    if survey.is_contest and not form.is_bound:
        name = f"{person.first_name} {person.last_name}".strip()
        form.initial["contact_name"] = name
    context = {
        "survey": survey,
        "form": form,
        "sponsor_text": sponsor_text,
        "statement_digest": statement.digest(sponsor_text) if sponsor_text else "",
        "use_text": statement.use_sentence(),
        "shared": _shared_in_words(),
    }
    return render(request, "surveys/take.html", context, status=status)
