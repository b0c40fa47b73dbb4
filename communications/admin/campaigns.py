"""Campaigns: written through ``create_campaign`` and ``update_campaign`` (so the body is
sanitised), previewed, tested, scheduled, sent, paused, resumed and cancelled, each button calling
one service and showing its ``CampaignError`` as an error message. Campaign staff never see a
recipient's address."""

from __future__ import annotations

from typing import Any

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp, csp_update
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.clickjacking import xframe_options_sameorigin

from communications.admin.charts import campaign_report
from communications.admin.progress import progress_bar
from communications.kinds import STAFF_CAMPAIGN_KIND_CHOICES, rule_for
from communications.models import Campaign, Delivery
from communications.permissions import SEND_CAMPAIGN, VIEW_DELIVERY
from communications.selectors import campaigns_with_progress
from communications.services import (
    CampaignError,
    campaign_progress,
    cancel_campaign,
    create_campaign,
    pause_campaign,
    preview_campaign,
    resume_campaign,
    schedule_campaign,
    send_campaign_now,
    send_campaign_test,
    update_campaign,
    validate_segment,
)
from communications.services.campaigns import EDITABLE, describe_recipient
from privacy_site.admin_tools import admin_path, adopt_saved, object_page
from privacy_site.auth_user import logged_in_user

CampaignStatus = Campaign.Status
CSS = "css/admin-communications.css"

# The buttons on a campaign's page, by the statuses that offer them. The service decides; this
# only avoids offering a step that would certainly be refused.
TRANSITIONS: dict[str, tuple[str, set[str]]] = {
    "test": ("Send a test to myself", set(CampaignStatus.values)),
    "send": ("Send now", {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}),
    "pause": ("Pause", {CampaignStatus.SENDING}),
    "resume": ("Resume", {CampaignStatus.PAUSED}),
    "cancel": (
        "Cancel",
        {
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.SENDING,
            CampaignStatus.PAUSED,
        },
    ),
}
SCHEDULABLE = {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}

# The email itself, as the preview page frames it. Emails carry their styles inline, which the
# site's own policy refuses, so this one response has a policy of its own: inline styles and
# images from us or inline, and nothing else (no script, no form, no fetch, no plugin), in a
# sandbox even when opened on its own, framed only by our own pages.
EMAIL_PREVIEW_POLICY: dict[str, list] = {
    "default-src": [NONE],
    "style-src": [UNSAFE_INLINE],
    "img-src": [SELF, "data:"],
    "script-src": [NONE],
    "form-action": [NONE],
    "base-uri": [NONE],
    "frame-ancestors": [SELF],
    "sandbox": [True],
}


class CampaignForm(forms.ModelForm):
    """The content of a campaign; the service saves it. Segment errors come from the service's
    own validator, so the form and the API say the same thing."""

    class Meta:
        model = Campaign
        fields = ("name", "kind", "subject_line", "body_format", "body", "segment")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields and not self._is_notice():
            # Staff write marketing and service campaigns; notices come from the policy.
            kind = self.fields["kind"]
            assert isinstance(kind, forms.ChoiceField)
            kind.choices = [("", "---------"), *STAFF_CAMPAIGN_KIND_CHOICES]

    def _is_notice(self) -> bool:
        return bool(self.instance.pk) and rule_for(self.instance.kind).is_notice

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.instance.pk and self.instance.status not in EDITABLE:
            raise forms.ValidationError(
                f"A {self.instance.get_status_display().lower()} campaign can't change."
            )
        if self._is_notice():
            raise forms.ValidationError(
                "A policy notice says what its policy version or business transition says; "
                "it can't be edited."
            )
        kind = cleaned.get("kind")
        if kind and "segment" in cleaned:
            try:
                cleaned["segment"] = validate_segment(cleaned["segment"], kind=kind)
            except CampaignError as error:
                self.add_error("segment", str(error))
        return cleaned


class ScheduleForm(forms.Form):
    send_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("name", "kind", "status", "send_at", "progress_column", "created_at")
    list_filter = ("status", "kind")
    search_fields = ("name", "subject_line")
    list_select_related = ("purpose",)
    # Each row counts its deliveries: a short page keeps the list quick.
    list_per_page = 25
    actions = ("send_now_action", "pause_action", "resume_action", "cancel_action")
    change_form_template = "admin/communications/campaign/change_form.html"
    content_fields = ("name", "kind", "purpose", "subject_line", "body_format", "body")
    sending_fields = (
        "status",
        "send_at",
        "progress",
        "deliveries_link",
        "created_by",
        "created_at",
        "started_at",
        "completed_at",
    )

    class Media:
        css = {"all": [CSS, "css/admin-extra.css"]}

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None):
        if obj is None:
            return [
                (None, {"fields": ("name", "kind", "subject_line", "body_format", "body")}),
                ("Audience", {"fields": ("segment",)}),
            ]
        return [
            (None, {"fields": self.content_fields}),
            ("Audience", {"fields": ("segment",)}),
            ("Sending", {"fields": self.sending_fields}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None):
        if obj is None:
            return ()
        if obj.status not in EDITABLE:
            return (*self.content_fields, "segment", *self.sending_fields)
        return ("purpose", *self.sending_fields)

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        # Only draft, scheduled and paused campaigns change; the others are shown read-only.
        if obj is not None and obj.status not in EDITABLE:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Deliveries point at their campaign as proof of what was sent: cancel, never delete.
        return False

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SEND_CAMPAIGN)

    def save_model(self, request: HttpRequest, obj: Campaign, form, change: bool) -> None:
        data = form.cleaned_data
        try:
            content = {
                "name": data["name"],
                "kind": data["kind"],
                "subject_line": data["subject_line"],
                "body": data["body"],
                "body_format": data["body_format"],
                "segment": data.get("segment"),
            }
            if change:
                saved = update_campaign(campaign=obj, actor=logged_in_user(request), **content)
            else:
                saved = create_campaign(actor=logged_in_user(request), **content)
        except CampaignError as error:
            # The form checked what the service checks; this is a race (sending started).
            raise PermissionDenied(str(error)) from error
        adopt_saved(obj, saved)

    def get_queryset(self, request: HttpRequest):
        # The progress column's counts come with the list's own query, not one query a row.
        return campaigns_with_progress(super().get_queryset(request))

    # --- Display ---------------------------------------------------------------------------

    @admin.display(description="progress")
    def progress_column(self, obj: Campaign) -> str:
        return progress_bar(campaign_progress(campaign=obj))

    @admin.display(description="progress")
    def progress(self, obj: Campaign) -> str:
        return campaign_report(campaign=obj)

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: Campaign) -> str:
        url = reverse("admin:communications_delivery_changelist")
        query = urlencode({"campaign__id__exact": obj.pk})
        return format_html('<a href="{}?{}">Deliveries of this campaign</a>', url, query)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._campaign_tools(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _campaign_tools(self, request: HttpRequest, obj: Campaign) -> dict:
        may_send = self.has_send_permission(request)
        buttons = [
            (action, label, self._url("transition", obj.pk, action))
            for action, (label, statuses) in TRANSITIONS.items()
            if may_send and obj.status in statuses
        ]
        schedule = None
        if may_send and obj.status in SCHEDULABLE:
            initial = timezone.localtime(obj.send_at) if obj.send_at else None
            schedule = {
                "form": ScheduleForm(initial={"send_at": initial}),
                "url": self._url("transition", obj.pk, "schedule"),
                "zone": timezone.get_current_timezone_name(),
            }
        return {
            "preview_url": self._url("preview", obj.pk),
            "transition_buttons": buttons,
            "schedule": schedule,
            "may_see_deliveries": request.user.has_perm(VIEW_DELIVERY),
        }

    # --- Preview and status changes ----------------------------------------------------------

    def get_urls(self):
        return [
            admin_path(self, "<int:object_id>/preview/", self.preview_view, "preview"),
            admin_path(
                self, "<int:object_id>/preview/email/", self.preview_email_view, "preview_email"
            ),
            admin_path(
                self,
                "<int:object_id>/transition/<slug:step>/",
                self.transition_view,
                "transition",
            ),
            *super().get_urls(),
        ]

    def _url(self, view: str, object_id: int, *args: str) -> str:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}"
        return reverse(name, args=(object_id, *args))

    def _previewed(self, request: HttpRequest, object_id: int) -> Campaign:
        """The campaign, refused to whoever its change page refuses."""
        campaign = self.get_object(request, str(object_id))
        if not self.has_view_or_change_permission(request, campaign):
            raise PermissionDenied
        if campaign is None:
            raise Http404("No such campaign.")
        return campaign

    # The page frames the email from our own URL (``preview_email_view``).
    @method_decorator(csp_update({"frame-src": [SELF]}))
    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        campaign = self._previewed(request, object_id)
        return object_page(
            self,
            request,
            "admin/communications/campaign/preview.html",
            original=campaign,
            title=f"Preview: {campaign.name}",
            rendered=preview_campaign(campaign=campaign),
            email_url=self._url("preview_email", campaign.pk),
            css=CSS,
        )

    @method_decorator(xframe_options_sameorigin)
    @method_decorator(csp(EMAIL_PREVIEW_POLICY))
    def preview_email_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The email's HTML alone, for the preview page's frame, under its own policy."""
        campaign = self._previewed(request, object_id)
        return HttpResponse(preview_campaign(campaign=campaign).html)

    def transition_view(self, request: HttpRequest, object_id: int, step: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_view_permission(request) and self.has_send_permission(request)):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=object_id)
        change_url = self._url("change", campaign.pk)
        try:
            if step == "test":
                delivery = send_campaign_test(campaign=campaign, actor=logged_in_user(request))
                self._report_test(request, delivery)
            elif step == "schedule":
                form = ScheduleForm(request.POST)
                if not form.is_valid():
                    errors = "; ".join(str(e) for es in form.errors.values() for e in es)
                    self.message_user(request, f"Not scheduled: {errors}", messages.ERROR)
                    return HttpResponseRedirect(change_url)
                campaign = schedule_campaign(
                    campaign=campaign,
                    send_at=form.cleaned_data["send_at"],
                    actor=logged_in_user(request),
                )
                when = timezone.localtime(campaign.send_at).strftime("%Y-%m-%d %H:%M %Z")
                self.message_user(request, f"“{campaign}” is scheduled for {when}.")
            elif step in SERVICES:
                campaign = SERVICES[step](campaign=campaign, actor=logged_in_user(request))
                self.message_user(
                    request, f"“{campaign}” is now {campaign.get_status_display().lower()}."
                )
            else:
                raise PermissionDenied
        except CampaignError as error:
            self.message_user(request, str(error), messages.ERROR)
        return HttpResponseRedirect(change_url)

    def _report_test(self, request: HttpRequest, delivery: Delivery) -> None:
        if delivery.status == Delivery.Status.QUEUED:
            self.message_user(request, f"A test is on its way to {describe_recipient(delivery)}.")
        else:
            self.message_user(
                request,
                f"The test was not sent: {delivery.get_status_display().lower()}"
                f" ({delivery.last_error}).",
                messages.WARNING,
            )

    # --- Changelist actions ------------------------------------------------------------------

    def _each(self, request: HttpRequest, queryset, service, done: str) -> None:
        changed = 0
        for campaign in queryset:
            try:
                service(campaign=campaign, actor=logged_in_user(request))
                changed += 1
            except CampaignError as error:
                self.message_user(request, f"“{campaign}”: {error}", messages.ERROR)
        if changed:
            self.message_user(request, f"{changed} campaign(s) {done}.")

    @admin.action(description="Send selected campaigns now", permissions=("send",))
    def send_now_action(self, request: HttpRequest, queryset) -> None:
        self._each(request, queryset, send_campaign_now, "started sending")

    @admin.action(description="Pause selected campaigns", permissions=("send",))
    def pause_action(self, request: HttpRequest, queryset) -> None:
        self._each(request, queryset, pause_campaign, "paused")

    @admin.action(description="Resume selected campaigns", permissions=("send",))
    def resume_action(self, request: HttpRequest, queryset) -> None:
        self._each(request, queryset, resume_campaign, "resumed")

    @admin.action(description="Cancel selected campaigns", permissions=("send",))
    def cancel_action(self, request: HttpRequest, queryset) -> None:
        self._each(request, queryset, cancel_campaign, "cancelled")


SERVICES = {
    "send": send_campaign_now,
    "pause": pause_campaign,
    "resume": resume_campaign,
    "cancel": cancel_campaign,
}
