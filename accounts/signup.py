"""The sign-up form: name, email, password and the marketing choices, unticked by default."""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.account.internal import flows
from allauth.account.utils import get_next_redirect_url
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from consent.selectors import optional_purposes

PURPOSE_PREFIX = "purpose_"


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form plus the person's name and one checkbox per optional purpose.

    Each checkbox is labelled with the purpose's exact wording, the words the ledger records
    the person agreeing to. ``adapter.save_user`` writes the ticked ones, in the transaction
    that creates the account (see ``save``).
    """

    first_name = forms.CharField(
        label="First name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.purposes = list(optional_purposes().order_by("pk"))
        for purpose in self.purposes:
            self.fields[PURPOSE_PREFIX + purpose.code] = forms.BooleanField(
                label=purpose.wording, required=False, initial=False
            )
        order = ["first_name", "last_name", "email", "password1", "password2"]
        self.order_fields(order + [PURPOSE_PREFIX + p.code for p in self.purposes])

    def marketing_choices(self) -> dict[str, bool]:
        """The ticked purposes only: an unticked box is no decision, so it writes no row."""
        return {
            purpose.code: True
            for purpose in self.purposes
            if self.cleaned_data.get(PURPOSE_PREFIX + purpose.code)
        }

    def purpose_fields(self) -> list[forms.BoundField]:
        return [self[PURPOSE_PREFIX + purpose.code] for purpose in self.purposes]

    def account_fields(self) -> list[forms.BoundField]:
        names = {PURPOSE_PREFIX + purpose.code for purpose in self.purposes}
        return [field for field in self.visible_fields() if field.name not in names]

    def save(self, request: HttpRequest):
        # The user, their consent rows and their email address row commit together or not at all.
        with transaction.atomic():
            return super().save(request)

    def try_save(self, request: HttpRequest) -> tuple[object | None, HttpResponse | None]:
        """Create the account and complete the sign-up (allauth's ``SignupView.form_valid``
        does the second step after this, outside any transaction) in one transaction: the
        account, its consent rows and its welcome email's delivery row commit together or not
        at all, so there is never an account whose welcome email nothing will send. Returning
        the response tells the view the sign-up is complete."""
        if self.account_already_exists:
            # The taken-address path creates nothing, so without this it would answer in a
            # tenth of the time and the delay would tell who has an account: hash the typed
            # password as a new account would, and throw the hash away.
            make_password(self.cleaned_data.get("password1") or "")
        with transaction.atomic():
            user, response = super().try_save(request)
            if user is None or response is not None:
                return user, response
            try:
                response = flows.signup.complete_signup(
                    request,
                    user=user,
                    redirect_url=get_next_redirect_url(request, "next"),
                    by_passkey=self.by_passkey,
                )
            except ImmediateHttpResponse as stop:
                response = stop.response
        return user, response
