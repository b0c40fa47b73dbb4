"""Business transitions (a sale, merger or transfer of the business), recorded through
``record_business_transition``, which refuses less than 30 days' notice and says why; a recorded
transition is history, shown and never changed or deleted."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from communications.admin.charts import CHARTS_CSS, campaign_report
from communications.models import BusinessTransition
from communications.services.policy_changes import (
    PolicyChangeError,
    record_business_transition,
    transition_problems,
)
from consent.models import PolicyVersion
from privacy_site.admin_tools import adopt_saved
from privacy_site.auth_user import logged_in_user


class TransitionForm(forms.ModelForm):
    """Shows what ``record_business_transition`` refuses (``transition_problems``: the 30-day
    rule among them) as errors on the fields at fault."""

    email_opted_in = forms.BooleanField(
        required=False, label="Also email people opted in to communications"
    )

    class Meta:
        model = BusinessTransition
        fields = (
            "kind",
            "counterparty",
            "description",
            "announced_on",
            "effective_on",
            "use_change_version",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        version = self.fields.get("use_change_version")
        if isinstance(version, forms.ModelChoiceField):
            version.queryset = PolicyVersion.objects.filter(
                change_type=PolicyVersion.ChangeType.USE_CHANGE
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        fields: dict[str, Any] = {name: data.get(name) for name in TransitionForm.Meta.fields}
        for field, problem in transition_problems(**fields).items():
            self.add_error(field, problem)
        return data


@admin.register(BusinessTransition)
class BusinessTransitionAdmin(admin.ModelAdmin):
    """Recorded through ``record_business_transition``; a recorded transition is history,
    shown and never changed or deleted."""

    form = TransitionForm
    list_display = ("counterparty", "kind", "announced_on", "effective_on", "recorded_by")

    class Media:
        css = {"all": [CHARTS_CSS, "css/admin-extra.css"]}

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [*(f.name for f in BusinessTransition._meta.fields), "notice_progress"]

    @admin.display(description="progress of the notice")
    def notice_progress(self, obj: BusinessTransition) -> str:
        if obj.campaign is None:
            return "No email was sent for this transition."
        return campaign_report(campaign=obj.campaign)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if change:
            raise PermissionDenied("A recorded transition is kept as it was.")
        data = form.cleaned_data
        try:
            recorded = record_business_transition(
                actor=logged_in_user(request),
                email_opted_in=data["email_opted_in"],
                **{name: data[name] for name in TransitionForm.Meta.fields},
            )
        except PolicyChangeError as exc:
            # The form checked the same rules: this is a race or a new rule.
            raise PermissionDenied(str(exc)) from exc
        adopt_saved(obj, recorded)
