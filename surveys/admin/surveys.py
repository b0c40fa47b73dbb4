"""Staff write surveys and contests here: the details, the questions (an inline, one choice
per line), and the steps on the survey's page (open, close, write the invitation campaign,
see the results, draw the winners, download the winners' details for the sponsor). Every
write goes through ``surveys.services``, which checks the permission and records a
``SurveyEvent``; the results are counts only (``surveys.selectors.survey_results``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest

from privacy_site.admin_tools import ReadOnlyInline, adopt_saved
from privacy_site.auth_user import logged_in_user
from surveys.models import Question, Survey, SurveyEvent
from surveys.services import QuestionSpec, SurveyDetails, SurveyError, save_survey
from surveys.services.authoring import check_questions, check_survey_details, sponsors_allowed

from .steps import SurveySteps

DETAILS = (
    "kind",
    "title",
    "introduction",
    "closes_at",
    "ask_postcode_district",
    "ask_age_band",
    "sponsor",
    "prize",
    "winners_wanted",
    "answers_kept_days",
)


class SurveyForm(forms.ModelForm):
    class Meta:
        model = Survey
        fields = DETAILS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "sponsor" in self.fields:
            field = self.fields["sponsor"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = sponsors_allowed()

    def details(self) -> SurveyDetails:
        data = self.cleaned_data
        return SurveyDetails(
            **{name: data.get(name, getattr(self.instance, name)) for name in DETAILS}
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                check_survey_details(self.details())
            except SurveyError as error:
                raise ValidationError(str(error)) from error
        return cleaned


class QuestionForm(forms.ModelForm):
    choices_text = forms.CharField(
        label="Choices",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 30}),
        help_text="One choice per line; none for a free-text question.",
    )

    class Meta:
        model = Question
        fields = ("text", "kind", "required")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["choices_text"].initial = "\n".join(
                choice.text for choice in self.instance.choices.all()
            )

    def spec(self) -> QuestionSpec:
        data = self.cleaned_data
        return QuestionSpec(
            text=data["text"],
            kind=data["kind"],
            required=bool(data.get("required")),
            choices=[
                line.strip() for line in data.get("choices_text", "").splitlines() if line.strip()
            ],
        )


class QuestionFormSet(forms.BaseInlineFormSet):
    def specs(self) -> list[QuestionSpec]:
        return [
            form.spec()
            for form in self.forms
            if isinstance(form, QuestionForm)
            if form.has_changed() or form.instance.pk
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        try:
            check_questions(self.specs())
        except SurveyError as error:
            raise ValidationError(str(error)) from error


class SurveyRights:
    """Questions are part of their survey: whoever may add or change the survey may write
    its questions (no separate question permissions to hand out)."""

    def _survey_right(self, request: HttpRequest, action: str) -> bool:
        return request.user.has_perm(f"surveys.{action}_survey")

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._survey_right(request, "view") or self._survey_right(request, "change")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._survey_right(request, "change" if obj is not None else "add")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._survey_right(request, "change")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._survey_right(request, "change")


class QuestionInline(SurveyRights, admin.StackedInline):
    model = Question
    form = QuestionForm
    formset = QuestionFormSet
    extra = 1
    fields = ("text", "kind", "required", "choices_text")
    verbose_name = "question"


class AnsweredQuestionInline(ReadOnlyInline, SurveyRights, admin.TabularInline):
    model = Question
    fields = readonly_fields = ("position", "text", "kind", "required", "choice_list")
    verbose_name = "question (fixed: the survey is open or closed)"

    @admin.display(description="Choices")
    def choice_list(self, obj: Question) -> str:
        return " / ".join(choice.text for choice in obj.choices.all()) or "Free text"


class SurveyEventInline(ReadOnlyInline, SurveyRights, admin.TabularInline):
    model = SurveyEvent
    fields = readonly_fields = ("occurred_at", "action", "actor", "details")
    verbose_name = "change"
    verbose_name_plural = "history (who changed what, when)"


@admin.register(Survey)
class SurveyAdmin(SurveySteps, admin.ModelAdmin):
    form = SurveyForm
    list_display = ("title", "kind", "status", "closes_at", "entry_count")
    list_filter = ("kind", "status")
    search_fields = ("title",)
    readonly_fields = ("status", "opened_at", "closed_at", "invitation")
    change_form_template = "admin/surveys/survey/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Survey]:
        return super().get_queryset(request).annotate(entry_total=Count("entries"))

    @admin.display(description="Entries", ordering="entry_total")
    def entry_count(self, obj: Survey) -> int:
        return getattr(obj, "entry_total", 0)

    def get_fields(self, request: HttpRequest, obj: Model | None = None):
        return (*DETAILS, *(self.readonly_fields if obj is not None else ()))

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None):
        if isinstance(obj, Survey) and obj.status != Survey.Status.DRAFT:
            # What people were told before they answered stays as it was.
            fixed = (
                "kind",
                "ask_postcode_district",
                "ask_age_band",
                "sponsor",
                "prize",
                "winners_wanted",
                "answers_kept_days",
            )
            return (*self.readonly_fields, *fixed)
        return self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Model | None):
        questions = (
            AnsweredQuestionInline
            if isinstance(obj, Survey) and obj.status != Survey.Status.DRAFT
            else QuestionInline
        )
        return [questions, SurveyEventInline] if obj is not None else [questions]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a survey is closed, never deleted: entries and the history point at it

    def save_model(self, request: HttpRequest, obj: Survey, form, change: bool) -> None:
        """The write happens in ``save_related``, with the questions, in one service call."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        questions = None
        for formset in formsets:
            if isinstance(formset, QuestionFormSet):
                questions = formset.specs()
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        try:
            saved = save_survey(
                survey=form.instance if change else None,
                details=form.details(),
                questions=questions,
                actor=logged_in_user(request),
            )
        except SurveyError as error:
            # Checked by the form already; a change by someone else in between lands here.
            raise ValidationError(str(error)) from error
        adopt_saved(form.instance, saved)
