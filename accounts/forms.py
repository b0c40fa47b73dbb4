"""Forms of the accounts pages: they validate input with the services' own rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Profile
from accounts.services import normalise_profile_fields


class ProfileForm(forms.Form):
    """Name, postal address, phone and the customer-service channel. The rules (postcode
    format, phone form, address all-or-nothing, phone needed for phone replies) are the
    service's, applied here too so every error shows next to its field."""

    first_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput({"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput({"autocomplete": "family-name"})
    )
    address_line_1 = forms.CharField(
        label="Address line 1",
        max_length=100,
        required=False,
        widget=forms.TextInput({"autocomplete": "address-line1"}),
    )
    address_line_2 = forms.CharField(
        label="Address line 2 (optional)",
        max_length=100,
        required=False,
        widget=forms.TextInput({"autocomplete": "address-line2"}),
    )
    town = forms.CharField(
        label="Town or city",
        max_length=60,
        required=False,
        widget=forms.TextInput({"autocomplete": "address-level2"}),
    )
    postcode = forms.CharField(
        max_length=10,
        required=False,
        help_text="A UK postcode, like SW1A 1AA.",
        widget=forms.TextInput({"autocomplete": "postal-code"}),
    )
    phone = forms.CharField(
        label="Phone number",
        max_length=30,
        required=False,
        help_text="A UK number like 07700 900123, or an international number starting +.",
        widget=forms.TextInput({"autocomplete": "tel", "type": "tel"}),
    )
    contact_channel = forms.ChoiceField(
        label="How should customer service reply to you?",
        choices=Profile.ContactChannel.choices,
        initial=Profile.ContactChannel.EMAIL,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose email or phone.",
            "invalid_choice": "Choose email or phone.",
        },
    )

    GROUPS = (
        ("Your name", ("first_name", "last_name")),
        ("Postal address", ("address_line_1", "address_line_2", "town", "postcode")),
        ("Customer service", ("phone",)),
    )

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The text fields by fieldset, in order; the channel radios are laid out apart."""
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        try:
            cleaned.update(normalise_profile_fields(cleaned))
        except ValidationError as error:
            self.add_error(None, error)
        return cleaned


class DeleteAccountForm(forms.Form):
    """Erasure is for the account's owner only: their password, typed again now."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "current-password"}),
        error_messages={"required": "Type your password to delete your account."},
    )

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError("That is not your password.", code="wrong_password")
        return password
