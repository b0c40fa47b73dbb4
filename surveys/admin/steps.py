"""The steps on a survey's admin page, each a view of its own calling one service: open,
close, write the invitation campaign, draw the winners (POST); the results and the winners'
contact details for the sponsor (GET; the details are recorded as read)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from privacy_site.admin_tools import admin_path, object_page
from privacy_site.auth_user import logged_in_user
from privacy_site.downloads import csv_download, spreadsheet_safe
from privacy_site.staff import is_active_staff
from staff_access.recording import note_access
from surveys.models import Draw, Survey
from surveys.selectors import survey_results
from surveys.services import (
    SurveyError,
    close_survey,
    draw_winners,
    open_survey,
    verify_draw,
    winner_contacts,
    write_invitation,
)

# A spreadsheet runs a cell starting with one of these as a formula; customers typed these.


def _cell(value: str) -> str:
    return spreadsheet_safe(value)


STEPS = {
    "open": (open_survey, "The survey is open for answers."),
    "close": (close_survey, "The survey is closed."),
    "invite": (
        write_invitation,
        "The invitation campaign is written as a draft: preview, test and send it from its page.",
    ),
    "draw": (
        draw_winners,
        "The winners are drawn; the sponsor's disclosures are logged and the "
        "winners' emails are on their way.",
    ),
}


class SurveySteps(admin.ModelAdmin):
    def get_urls(self):
        own = [
            admin_path(self, "<path:object_id>/results/", self.results_view, "results"),
            admin_path(self, "<path:object_id>/winners.csv", self.contacts_view, "contacts"),
            *(
                admin_path(
                    self,
                    f"<path:object_id>/{step}/",
                    require_POST(
                        lambda request, object_id, step=step: self.step_view(
                            request, object_id, step
                        )
                    ),
                    step,
                )
                for step in STEPS
            ),
        ]
        return own + super().get_urls()

    def _survey(self, request: HttpRequest, object_id: str) -> Survey:
        survey = self.get_object(request, unquote(object_id))
        if survey is None or not self.has_view_permission(request, survey):
            raise Http404("No such survey.")
        return survey

    def _back(self, survey: Survey) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:surveys_survey_change", args=[survey.pk]))

    def step_view(self, request: HttpRequest, object_id: str, step: str) -> HttpResponse:
        survey = self._survey(request, object_id)
        service, done = STEPS[step]
        try:
            result = service(survey=survey, actor=logged_in_user(request))
        except SurveyError as error:
            messages.error(request, str(error))
            return self._back(survey)
        messages.success(request, done)
        if step == "invite" and isinstance(result, Survey) and result.invitation_id:
            return HttpResponseRedirect(
                reverse("admin:communications_campaign_change", args=[result.invitation_id])
            )
        return self._back(survey)

    def results_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        survey = self._survey(request, object_id)
        if not is_active_staff(logged_in_user(request), "surveys.view_results"):
            raise PermissionDenied
        return object_page(
            self,
            request,
            "admin/surveys/survey/results.html",
            original=survey,
            title=f"Results: {survey.title}",
            results=survey_results(survey=survey),
        )

    def contacts_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        survey = self._survey(request, object_id)
        try:
            rows = winner_contacts(survey=survey, actor=logged_in_user(request))
        except SurveyError as error:
            messages.error(request, str(error))
            return self._back(survey)
        note_access(
            request,
            action="export",
            page="admin:surveys_survey_contacts",
            subject_ids=[row.person for row in rows],
            fields=["name", "email", "postal_address", "postcode"],
        )
        table: list[list[object]] = [
            ["entry", "name", "email", "postal_address", "postcode"],
            *(
                [row.entry, *map(_cell, (row.name, row.email, row.address, row.postcode))]
                for row in rows
            ),
        ]
        return csv_download(
            table, f"contest-{survey.pk}-winners-{timezone.localdate():%Y-%m-%d}.csv"
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        survey = self.get_object(request, unquote(object_id)) if object_id else None
        if survey is not None:
            user = logged_in_user(request)
            draw = Draw.objects.filter(survey=survey).first()
            extra_context = {
                **(extra_context or {}),
                "steps": {
                    "can_change": self.has_change_permission(request, survey),
                    "can_results": is_active_staff(user, "surveys.view_results"),
                    "can_draw": is_active_staff(user, "surveys.draw_winners"),
                    "can_contacts": is_active_staff(user, "surveys.view_winner_contacts"),
                    "draw": draw,
                    "verified": verify_draw(draw) if draw else None,
                },
            }
        return super().change_view(request, object_id, form_url, extra_context)
