"""Policy drafts for the Privacy Officer: draft a version, preview its differences from the
version in force, publish it (``publish_policy_change``); and what each publication started."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from communications.admin.charts import CHARTS_CSS, campaign_report
from communications.models import PolicyPublication
from communications.services.policy_changes import PolicyChangeError, publish_policy_change
from consent.models import PolicyDraft
from consent.policy_diff import policy_diff
from consent.services import ConsentError, current_policy_version, save_policy_draft
from privacy_site.admin_tools import ReadOnlyAdmin, admin_path, adopt_saved, object_page
from privacy_site.auth_user import AuthUser, logged_in_user

# A version is only ever added by publishing a draft, so adding one is the right to publish.
PUBLISH_PERMISSION = "consent.add_policyversion"


class PublishForm(forms.Form):
    effective_date = forms.DateField(initial=timezone.localdate)
    email_practice_change = forms.BooleanField(
        required=False,
        label="Also email people opted in to communications (practice change only)",
    )


class _DryRun(Exception):
    """Rolls back a service call made only to learn whether it would refuse."""


class PolicyDraftForm(forms.ModelForm):
    """Shows what ``save_policy_draft`` refuses as a form error: the service is tried in a
    savepoint that is always rolled back, so its rules stay in one place and ``save_model``
    makes the one real call."""

    # The member of staff drafting: set on the form class PolicyDraftAdmin.get_form makes.
    actor: AuthUser

    class Meta:
        model = PolicyDraft
        fields = ("text", "summary", "change_type", "new_purposes")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            with transaction.atomic():
                save_policy_draft(
                    actor=self.actor,
                    text=data["text"],
                    summary=data["summary"],
                    change_type=data["change_type"],
                    new_purposes=data["new_purposes"],
                    draft=self.instance if self.instance.pk else None,
                )
                raise _DryRun
        except _DryRun:
            pass
        except ConsentError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(PolicyDraft)
class PolicyDraftAdmin(admin.ModelAdmin):
    """Draft, preview, publish. Drafting needs the draft permissions; publishing needs
    ``consent.add_policyversion`` (a version is only ever added by publishing a draft)."""

    form = PolicyDraftForm
    list_display = ("__str__", "change_type", "created_by", "updated_at", "published_version")
    fields = ("text", "summary", "change_type", "new_purposes")
    change_form_template = "admin/consent/policydraft/change_form.html"

    def get_form(
        self,
        request: HttpRequest,
        obj: PolicyDraft | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[PolicyDraft]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": logged_in_user(request)})

    def has_change_permission(self, request: HttpRequest, obj: PolicyDraft | None = None) -> bool:
        # A published draft is what the version was made from: shown, never changed.
        if obj is not None and obj.published_version_id is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PolicyDraft, form, change: bool) -> None:
        try:
            saved = save_policy_draft(
                actor=logged_in_user(request),
                text=form.cleaned_data["text"],
                summary=form.cleaned_data["summary"],
                change_type=form.cleaned_data["change_type"],
                new_purposes=form.cleaned_data["new_purposes"],
                draft=obj if change else None,
            )
        except ConsentError as exc:
            # The form tried the same call: this is a race (published meanwhile).
            raise PermissionDenied(str(exc)) from exc
        adopt_saved(obj, saved)

    def get_urls(self):
        return [
            admin_path(self, "<int:pk>/preview/", self.preview_view, "preview"),
            admin_path(self, "<int:pk>/publish/", self.publish_view, "publish"),
            *super().get_urls(),
        ]

    def _page(
        self, request: HttpRequest, draft: PolicyDraft, template: str, title: str, **context
    ) -> TemplateResponse:
        """A page showing the draft's differences from the version in force."""
        current = current_policy_version()
        return object_page(
            self,
            request,
            template,
            original=draft,
            title=title,
            draft=draft,
            current=current,
            hunks=policy_diff(current.text, draft.text),
            **context,
        )

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        draft = get_object_or_404(PolicyDraft, pk=pk)
        return self._page(
            request,
            draft,
            "admin/consent/policydraft/preview.html",
            "Preview: differences from the version in force",
        )

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not (self.has_view_permission(request) and request.user.has_perm(PUBLISH_PERMISSION)):
            raise PermissionDenied
        draft = get_object_or_404(PolicyDraft, pk=pk)
        form = PublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                publication = publish_policy_change(
                    draft=draft,
                    actor=logged_in_user(request),
                    effective_date=form.cleaned_data["effective_date"],
                    email_practice_change=form.cleaned_data["email_practice_change"],
                )
            except PolicyChangeError as exc:
                form.add_error(None, str(exc))
            else:
                # Also in the draft's admin history, beside the publication record.
                self.log_change(
                    request, draft, f"Published as version {publication.version.number}."
                )
                messages.success(request, publication.started)
                publications = self.admin_site._registry[PolicyPublication]
                if publications.has_view_permission(request, publication):
                    return redirect(
                        reverse(
                            "admin:communications_policypublication_change",
                            args=[publication.pk],
                        )
                    )
                return redirect(reverse("admin:consent_policydraft_changelist"))
        return self._page(
            request,
            draft,
            "admin/consent/policydraft/publish.html",
            "Publish this version",
            form=form,
            status=400 if form.errors else 200,
        )


@admin.register(PolicyPublication)
class PolicyPublicationAdmin(ReadOnlyAdmin):
    """The record of a publication, written by ``publish_policy_change``: shown to staff with
    the view permission, with the progress of the notice it emailed; never added, changed or
    deleted here."""

    list_display = ("version", "published_by", "published_at", "site_notice", "campaign")
    fields = (
        "version",
        "published_by",
        "published_at",
        "site_notice",
        "campaign",
        "started",
        "notice_progress",
    )
    readonly_fields = fields

    class Media:
        css = {"all": [CHARTS_CSS, "css/admin-extra.css"]}

    @admin.display(description="progress of the notice")
    def notice_progress(self, obj: PolicyPublication) -> str:
        if obj.campaign is None:
            return "No email was sent for this publication."
        return campaign_report(campaign=obj.campaign)
