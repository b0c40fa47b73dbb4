"""Forms of the consent pages: they validate input; the services decide what it means."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms

from consent.models import Purpose
from consent.names import NAME_MAX_LENGTH, validate_person_name
from consent.selectors import ConsentState


class PreferencesForm(forms.Form):
    """One checkbox per optional purpose, labelled with the exact words the person is asked."""

    def __init__(
        self,
        *args: Any,
        purposes: Iterable[Purpose],
        status: Mapping[str, ConsentState],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.purposes = list(purposes)
        for purpose in self.purposes:
            state = status.get(purpose.code)
            self.fields[purpose.code] = forms.BooleanField(
                label=purpose.wording,
                required=False,
                initial=bool(state and state.granted),
            )

    def choices(self) -> dict[str, bool]:
        """``{purpose code: granted}`` in display order; call after ``is_valid()``."""
        return {purpose.code: bool(self.cleaned_data[purpose.code]) for purpose in self.purposes}

    def rows(self) -> list[Checkbox]:
        """Each purpose's checkbox, ready to print: rendered by the page's own markup rather
        than the form renderer's three templates per widget (the page is shown often)."""
        rows = []
        for purpose in self.purposes:
            field = self[purpose.code]
            rows.append(
                Checkbox(
                    purpose=purpose,
                    name=field.html_name,
                    id=field.auto_id,
                    label=str(field.label),
                    checked=bool(field.value()),
                )
            )
        return rows


@dataclass(frozen=True)
class Checkbox:
    purpose: Purpose
    name: str
    id: str
    label: str
    checked: bool


class NewsletterSignupForm(forms.Form):
    """Anyone can fill this in for any address, so the names are held to one short line of
    name characters (``consent.names``): nothing typed here can carry a message or a link."""

    first_name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[validate_person_name],
        error_messages={"required": "Enter your first name."},
        widget=forms.TextInput({"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[validate_person_name],
        required=False,
        label="Last name (optional)",
        widget=forms.TextInput({"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        max_length=254,
        label="Email address",
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter an email address like name@example.com.",
        },
        widget=forms.EmailInput({"autocomplete": "email"}),
    )
