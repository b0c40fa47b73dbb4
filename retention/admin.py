"""Legal holds (placed and released by the Privacy Officer) and the retention jobs' run
records, in admin. A hold is never deleted or edited: placing it and releasing it are its two
writes, each through ``retention.services``, and the row is its own audit record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import HttpRequest

from privacy_site.admin_tools import ReadOnlyAdmin
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from retention.models import LegalHold, RetentionRun
from retention.services import hold_problems, place_hold, release_hold
from staff_access.admin_audit import PersonalDataAdmin

HOLD_FIELDS = (
    "person",
    "reason",
    "ends_at",
    "placed_by",
    "placed_at",
    "released_by",
    "released_at",
    "release_reason",
)


class PlaceHoldForm(forms.ModelForm):
    person_email = forms.EmailField(
        label="Person's email address", help_text="The address of the account to hold."
    )
    ends_at = forms.SplitDateTimeField(
        label="Ends at",
        widget=AdminSplitDateTime,
        help_text="The hold lapses then unless a new one is placed.",
    )

    class Meta:
        model = LegalHold
        fields = ("reason", "ends_at")

    def clean_person_email(self) -> Any:
        address = self.cleaned_data["person_email"].strip()
        person = get_user_model().objects.filter(email__iexact=address).first()
        if person is None:
            raise ValidationError("No account has this address.")
        return person

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        problems = hold_problems(
            person=cleaned.get("person_email"),
            reason=cleaned.get("reason", "") or "",
            ends_at=cleaned.get("ends_at"),
        )
        for field, problem in problems.items():
            self.add_error("person_email" if field == "person" else field, problem)
        return cleaned


class ReleaseHoldForm(forms.ModelForm):
    class Meta:
        model = LegalHold
        fields = ("release_reason",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("release_reason")
        if field is None:  # released already: nothing to fill in
            return
        field.required = True
        field.label = "Release now, because"
        field.help_text = "Leave the form without saving to keep the hold."

    def clean_release_reason(self) -> str:
        reason = self.cleaned_data["release_reason"].strip()
        if not reason:
            raise ValidationError("Say why the hold ends early.")
        return reason


@admin.register(LegalHold)
class LegalHoldAdmin(PersonalDataAdmin, NeedToKnowAdmin, admin.ModelAdmin):
    person_field = "person_id"
    list_display = ("__str__", "person", "ends_at", "in_force_display", "placed_by", "placed_at")
    list_filter = ("released_at",)
    list_select_related = ("person", "placed_by")
    ordering = ("-placed_at", "-id")

    @admin.display(boolean=True, description="in force")
    def in_force_display(self, hold: LegalHold) -> bool:
        return hold.in_force

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # A released hold is a record: shown, with nothing left to change.
        if isinstance(obj, LegalHold) and obj.released_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = PlaceHoldForm
            kwargs["fields"] = ("person_email", "reason", "ends_at")
        else:
            kwargs["form"] = ReleaseHoldForm
            kwargs["fields"] = () if obj.released_at else ("release_reason",)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("person_email", "reason", "ends_at")
        return HOLD_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        if obj.released_at:
            return HOLD_FIELDS
        return tuple(name for name in HOLD_FIELDS if name != "release_reason")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            try:
                released = release_hold(
                    hold_id=obj.pk,
                    released_by=request.user,  # type: ignore[arg-type]
                    reason=form.cleaned_data["release_reason"],
                )
            except ValidationError as error:  # another officer released it meanwhile
                raise PermissionDenied(" ".join(error.messages)) from error
            obj.released_at, obj.released_by = released.released_at, released.released_by
            return
        hold = place_hold(
            person=form.cleaned_data["person_email"],
            reason=form.cleaned_data["reason"],
            ends_at=form.cleaned_data["ends_at"],
            placed_by=request.user,  # type: ignore[arg-type]
        )
        obj.pk, obj.person, obj.placed_at = hold.pk, hold.person, hold.placed_at


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = (
        "rule",
        "started_at",
        "outcome",
        "deleted",
        "trimmed",
        "skipped_held",
        "duration_display",
        "batches",
        "longest_batch_ms",
    )
    list_filter = ("rule", "outcome")
    ordering = ("-started_at", "-id")
    fields = readonly_fields = (
        "rule",
        "started_at",
        "finished_at",
        "outcome",
        "cutoff",
        "deleted",
        "trimmed",
        "skipped_held",
        "batches",
        "longest_batch_ms",
        "error",
    )

    @admin.display(description="took (s)")
    def duration_display(self, run: RetentionRun) -> str:
        seconds = run.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f}"
