"""The wishlist form: the friend, an optional message, and up to ``ITEM_ROWS`` products."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from .rules import NAME_MAX_LENGTH, link_problem, message_problem, name_problem
from .sealing import WishlistItem

ITEM_ROWS = 5


class WishlistForm(forms.Form):
    friend_name = forms.CharField(
        label="Your friend's name",
        max_length=NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    friend_email = forms.EmailField(
        label="Your friend's email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    message = forms.CharField(
        label="A short message (optional)",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.REFERRAL_MESSAGE_MAX_LENGTH
        self.fields["message"].help_text = f"Plain text, up to {limit} characters, no links."
        self.fields["message"].widget.attrs["maxlength"] = str(limit)
        for row in range(1, ITEM_ROWS + 1):
            self.fields[f"item_{row}_name"] = forms.CharField(
                label="Product name", required=False, max_length=NAME_MAX_LENGTH
            )
            self.fields[f"item_{row}_link"] = forms.CharField(
                label="Link to it in our shop",
                required=False,
                max_length=500,
                widget=forms.URLInput(attrs={"placeholder": "https://"}),
            )

    def clean_friend_name(self) -> str:
        name: str = self.cleaned_data["friend_name"]
        problem = name_problem(name, what="your friend's name")
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean_message(self) -> str:
        message: str = self.cleaned_data["message"]
        problem = message_problem(message)
        if problem:
            raise forms.ValidationError(problem)
        return message

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for row in range(1, ITEM_ROWS + 1):
            name = cleaned.get(f"item_{row}_name", "")
            link = cleaned.get(f"item_{row}_link", "")
            if name and (problem := name_problem(name, what="a product name")):
                self.add_error(f"item_{row}_name", problem)
            if link and (problem := link_problem(link)):
                self.add_error(f"item_{row}_link", problem)
        if not self.errors and not self.items():
            raise forms.ValidationError("Add at least one product: its name, its link, or both.")
        return cleaned

    def items(self) -> list[WishlistItem]:
        rows = [
            WishlistItem(
                name=self.cleaned_data.get(f"item_{row}_name", ""),
                url=self.cleaned_data.get(f"item_{row}_link", ""),
            )
            for row in range(1, ITEM_ROWS + 1)
        ]
        return [item for item in rows if item.name or item.url]

    def item_rows(self) -> list[tuple[int, forms.BoundField, forms.BoundField]]:
        return [
            (row, self[f"item_{row}_name"], self[f"item_{row}_link"])
            for row in range(1, ITEM_ROWS + 1)
        ]
