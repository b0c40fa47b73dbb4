"""Admin for the Privacy Officer: draft a policy version, preview its differences, publish it
(``publish_policy_change``); see what each publication started; record business transitions
(``record_business_transition``, which refuses less than 30 days' notice and says why)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from communications.models import BusinessTransition, PolicyPublication
from communications.services.policy_changes import (
    PolicyChangeError,
    publish_policy_change,
    record_business_transition,
)
from consent.models import PolicyDraft
from consent.policy_diff import policy_diff
from consent.services import ConsentError, current_policy_version, save_policy_draft


class PublishForm(forms.Form):
    effective_date = forms.DateField(initial=timezone.localdate)
    email_practice_change = forms.BooleanField(
        required=False,
        label="Also email people opted in to communications (practice change only)",
    )


@admin.register(PolicyDraft)
class PolicyDraftAdmin(admin.ModelAdmin):
    list_display = ("__str__", "change_type", "created_by", "updated_at", "published_version")
    fields = ("text", "summary", "change_type", "new_purposes")

    def get_readonly_fields(self, request: HttpRequest, obj: PolicyDraft | None = None):
        return self.fields if obj is not None and obj.published_version_id else ()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PolicyDraft, form, change: bool) -> None:
        try:
            saved = save_policy_draft(
                actor=request.user,
                text=form.cleaned_data["text"],
                summary=form.cleaned_data["summary"],
                change_type=form.cleaned_data["change_type"],
                new_purposes=form.cleaned_data["new_purposes"],
                draft=obj if change else None,
            )
        except ConsentError as exc:
            raise PermissionDenied(str(exc)) from exc
        obj.pk = saved.pk
        obj._state.adding = False

    def get_urls(self):
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="consent_policydraft_preview",
            ),
            path(
                "<int:pk>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name="consent_policydraft_publish",
            ),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, draft: PolicyDraft, title: str) -> dict:
        current = current_policy_version()
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "original": draft,
            "draft": draft,
            "current": current,
            "hunks": policy_diff(current.text, draft.text),
        }

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        draft = get_object_or_404(PolicyDraft, pk=pk)
        context = self._context(request, draft, "Preview: differences from the version in force")
        return TemplateResponse(request, "admin/consent/policydraft/preview.html", context)

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("consent.add_policyversion"):
            raise PermissionDenied
        draft = get_object_or_404(PolicyDraft, pk=pk)
        form = PublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                publication = publish_policy_change(
                    draft=draft,
                    actor=request.user,
                    effective_date=form.cleaned_data["effective_date"],
                    email_practice_change=form.cleaned_data["email_practice_change"],
                )
            except PolicyChangeError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, publication.started)
                return redirect(
                    reverse("admin:communications_policypublication_change", args=[publication.pk])
                )
        context = {**self._context(request, draft, "Publish this version"), "form": form}
        return TemplateResponse(request, "admin/consent/policydraft/publish.html", context)


@admin.register(PolicyPublication)
class PolicyPublicationAdmin(admin.ModelAdmin):
    list_display = ("version", "published_by", "published_at", "site_notice", "campaign")
    readonly_fields = ("version", "published_by", "published_at", "site_notice", "campaign")
    fields = (*readonly_fields, "started")

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TransitionForm(forms.ModelForm):
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


@admin.register(BusinessTransition)
class BusinessTransitionAdmin(admin.ModelAdmin):
    form = TransitionForm
    list_display = ("counterparty", "kind", "announced_on", "effective_on", "recorded_by")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in BusinessTransition._meta.fields] if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        admin_view = self

        class Checked(form):
            def clean(self):
                data = super().clean()
                if obj is None and not self.errors:
                    try:
                        self.instance = record_business_transition(actor=request.user, **data)
                    except PolicyChangeError as exc:
                        raise forms.ValidationError(str(exc)) from exc
                    admin_view._recorded = self.instance
                return data

        return Checked

    def save_model(self, request, obj, form, change) -> None:
        if change:
            raise PermissionDenied("A recorded transition is kept as it was.")
        # Recorded by the service when the form was checked.
