"""The form a person fills in to take part: one field per question, the optional demographic
questions, and for a contest the contact details the sponsor gets if they win."""

from __future__ import annotations

from typing import Any

from django import forms

from privacy_site.postcodes import INVALID_POSTCODE, uk_postcode, uk_postcode_district
from surveys.models import AgeBand, Question, Survey
from surveys.services.entries import MAX_TEXT, AnswerValue, ContactDetails

OPTIONAL = " (optional)"
REQUIRED = " (required to take part)"


def _label(text: str, required: bool) -> str:
    return text + (REQUIRED if required else OPTIONAL)


def question_field_name(question: Question) -> str:
    return f"question_{question.pk}"


class EntryForm(forms.Form):
    def __init__(self, *args: Any, survey: Survey, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.survey = survey
        self.questions = list(survey.questions.all())
        for question in self.questions:
            self.fields[question_field_name(question)] = self._field_for(question)
        if survey.ask_postcode_district:
            self.fields["postcode_district"] = forms.CharField(
                label=_label("Your postcode district", False),
                help_text="The first half of your postcode, like LS1 or SW1A.",
                required=False,
                max_length=8,
            )
        if survey.ask_age_band:
            self.fields["age_band"] = forms.ChoiceField(
                label=_label("Your age", False),
                choices=[("", "Prefer not to say"), *AgeBand.choices],
                required=False,
                widget=forms.RadioSelect,
            )
        if survey.is_contest:
            self.fields["contact_name"] = forms.CharField(
                label=_label("Your name", True), max_length=150, required=True
            )
            self.fields["contact_address"] = forms.CharField(
                label=_label("Postal address for the prize", True),
                widget=forms.Textarea(attrs={"rows": 3}),
                max_length=500,
                required=True,
            )
            self.fields["contact_postcode"] = forms.CharField(
                label=_label("Postcode", True), max_length=8, required=True
            )

    @staticmethod
    def _field_for(question: Question) -> forms.Field:
        label = _label(question.text, question.required)
        choices = [(str(choice.pk), choice.text) for choice in question.choices.all()]
        if question.kind == Question.Kind.FREE_TEXT:
            return forms.CharField(
                label=label,
                required=question.required,
                max_length=MAX_TEXT,
                widget=forms.Textarea(attrs={"rows": 4}),
            )
        if question.kind == Question.Kind.SINGLE:
            return forms.ChoiceField(
                label=label, required=question.required, choices=choices, widget=forms.RadioSelect
            )
        return forms.MultipleChoiceField(
            label=label,
            required=question.required,
            choices=choices,
            widget=forms.CheckboxSelectMultiple,
        )

    def clean_contact_postcode(self) -> str:
        postcode = uk_postcode(self.cleaned_data.get("contact_postcode", ""))
        if postcode is None:
            raise forms.ValidationError(INVALID_POSTCODE)
        return postcode

    def clean_postcode_district(self) -> str:
        value = self.cleaned_data.get("postcode_district", "")
        if not value.strip():
            return ""
        district = uk_postcode_district(value)
        if district is None:
            raise forms.ValidationError(
                "Enter a postcode district like LS1 or SW1A, or leave it blank."
            )
        return district

    def answers(self) -> dict[int, AnswerValue]:
        answers: dict[int, AnswerValue] = {}
        for question in self.questions:
            value = self.cleaned_data.get(question_field_name(question))
            if question.kind == Question.Kind.FREE_TEXT:
                answers[question.pk] = value or ""
            elif question.kind == Question.Kind.SINGLE:
                answers[question.pk] = [int(value)] if value else []
            else:
                answers[question.pk] = [int(item) for item in value or []]
        return answers

    def contact(self) -> ContactDetails | None:
        if not self.survey.is_contest:
            return None
        return ContactDetails(
            name=self.cleaned_data["contact_name"],
            address=self.cleaned_data["contact_address"],
            postcode=self.cleaned_data["contact_postcode"],
        )
