"""Staff views of campaigns, deliveries, the suppression list and provider events.

Every write goes through ``communications.services``: a campaign body is saved by
``save_campaign`` (so it is sanitised), each button calls one service and shows its
``CampaignError`` as an error message. Campaign staff never see a recipient's address: the
delivery list masks it, and provider messages that quote one are masked too. The suppression
list holds hashes only; an address typed into the add form is hashed and never stored. A
suppression is lifted only by ``lift_suppression``, which records who lifted it and why.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from communications.addresses import address_hash, mask_addresses_in
from communications.models import Campaign, Delivery, ProviderEvent, Suppression, SuppressionLift
from communications.permissions import SEND_CAMPAIGN, VIEW_DELIVERY
from communications.services import (
    CampaignError,
    campaign_progress,
    cancel_campaign,
    pause_campaign,
    preview_campaign,
    resume_campaign,
    save_campaign,
    schedule_campaign,
    send_campaign_now,
    send_campaign_test,
    suppress_address,
    validate_segment,
)
from communications.services.campaigns import EDITABLE, describe_recipient
from communications.services.suppression import SuppressionError, lift_suppression
from privacy_site.admin_tools import ReadOnlyAdmin

CampaignStatus = Campaign.Status
DeliveryStatus = Delivery.Status
CSS = "css/admin-communications.css"

# The bar's segments, in order, and the statuses each counts. Queued and sending rows are the
# unfilled rest of the bar.
BAR_SEGMENTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("sent", "sent", (DeliveryStatus.SENT,)),
    ("failed", "failed", (DeliveryStatus.FAILED,)),
    ("bounced", "bounced", (DeliveryStatus.BOUNCED,)),
    ("complained", "complained", (DeliveryStatus.COMPLAINED,)),
    (
        "skipped",
        "suppressed or skipped",
        (
            DeliveryStatus.SUPPRESSED,
            DeliveryStatus.SKIPPED_NO_CONSENT,
            DeliveryStatus.SKIPPED_INACTIVE,
            DeliveryStatus.SKIPPED_UNVERIFIED,
            DeliveryStatus.SKIPPED_AUDIENCE,
        ),
    ),
    ("cancelled", "cancelled", (DeliveryStatus.CANCELLED,)),
]
# What the change page lists under the bar: every count staff act on.
PROGRESS_COUNTS: list[tuple[str, str]] = [
    ("total", "Recipients so far"),
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("uncertain", "Uncertain (may have arrived)"),
    ("bounced", "Bounced"),
    ("complained", "Complained"),
    ("unsubscribed", "Unsubscribed"),
    ("suppressed", "Suppressed"),
    ("skipped_no_consent", "Skipped: no consent"),
    ("skipped_inactive", "Skipped: account deactivated or gone"),
    ("skipped_unverified", "Skipped: address not verified"),
    ("skipped_audience", "Skipped: not in the notice's audience"),
    ("cancelled", "Cancelled"),
]

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


def progress_bar(progress: dict[str, int]) -> str:
    """A bar drawn in SVG (geometry attributes, not style attributes: the Content-Security-
    Policy allows no inline style), hidden from screen readers, with the same facts as text
    beside it."""
    total = progress["total"]
    parts = []
    start = 0.0
    for css, label, statuses in BAR_SEGMENTS:
        count = sum(progress[s] for s in statuses)
        if total and count:
            width = 100 * count / total
            parts.append((css, f"{start:.2f}", f"{width:.2f}", count, label))
            start += width
    segments = format_html(
        '<svg viewBox="0 0 100 1" preserveAspectRatio="none" focusable="false">{}</svg>',
        format_html_join(
            "",
            '<rect class="comms-bar-{}" x="{}" y="0" width="{}" height="1">'
            "<title>{} {}</title></rect>",
            parts,
        ),
    )
    done = total - progress["queued"] - progress["sending"]
    summary = (
        f"{progress['sent']} of {total} sent, {done} of {total} finished"
        if total
        else "No recipients yet"
    )
    return format_html(
        '<span class="comms-progress"><span class="comms-bar" aria-hidden="true">{}</span>'
        '<span class="comms-progress-text">{}</span></span>',
        segments,
        summary,
    )


def progress_details(progress: dict[str, int]) -> str:
    counts = format_html_join(
        "",
        "<dt>{}</dt><dd>{}</dd>",
        ((label, progress[key]) for key, label in PROGRESS_COUNTS),
    )
    return format_html('{}<dl class="comms-counts">{}</dl>', progress_bar(progress), counts)


# --- Campaigns ---------------------------------------------------------------------------------


class CampaignForm(forms.ModelForm):
    """The content of a campaign; the service saves it. Segment errors come from the service's
    own validator, so the form and the API say the same thing."""

    class Meta:
        model = Campaign
        fields = ("name", "kind", "subject", "body_format", "body", "segment")

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.instance.pk and self.instance.status not in EDITABLE:
            raise forms.ValidationError(
                f"A {self.instance.get_status_display().lower()} campaign can't change."
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
    search_fields = ("name", "subject")
    list_select_related = ("purpose",)
    # Each row counts its deliveries: a short page keeps the list quick.
    list_per_page = 25
    actions = ("send_now_action", "pause_action", "resume_action", "cancel_action")
    change_form_template = "admin/communications/campaign/change_form.html"
    content_fields = ("name", "kind", "purpose", "subject", "body_format", "body")
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
                (None, {"fields": ("name", "kind", "subject", "body_format", "body")}),
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
            saved = save_campaign(
                actor=request.user,
                campaign=obj if change else None,
                name=data["name"],
                kind=data["kind"],
                subject=data["subject"],
                body=data["body"],
                body_format=data["body_format"],
                segment=data.get("segment"),
            )
        except CampaignError as error:
            # The form checked what the service checks; this is a race (sending started).
            raise PermissionDenied(str(error)) from error
        # The admin goes on with ``obj`` (message, log entry, redirect): make it the saved row.
        for field in Campaign._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.db = saved._state.db

    # --- Display ---------------------------------------------------------------------------

    @admin.display(description="progress")
    def progress_column(self, obj: Campaign) -> str:
        return progress_bar(campaign_progress(campaign=obj))

    @admin.display(description="progress")
    def progress(self, obj: Campaign) -> str:
        return progress_details(campaign_progress(campaign=obj))

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
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="{}_{}_preview".format(*info),
            ),
            path(
                "<int:object_id>/transition/<slug:step>/",
                self.admin_site.admin_view(self.transition_view),
                name="{}_{}_transition".format(*info),
            ),
            *super().get_urls(),
        ]

    def _url(self, view: str, object_id: int, *args: str) -> str:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}"
        return reverse(name, args=(object_id, *args))

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        campaign = get_object_or_404(Campaign.objects.select_related("purpose"), pk=object_id)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {campaign.name}",
            "opts": self.opts,
            "original": campaign,
            "rendered": preview_campaign(campaign=campaign),
            "css": CSS,
        }
        return TemplateResponse(request, "admin/communications/campaign/preview.html", context)

    def transition_view(self, request: HttpRequest, object_id: int, step: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_view_permission(request) and self.has_send_permission(request)):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=object_id)
        change_url = self._url("change", campaign.pk)
        try:
            if step == "test":
                delivery = send_campaign_test(campaign=campaign, actor=request.user)
                self._report_test(request, delivery)
            elif step == "schedule":
                form = ScheduleForm(request.POST)
                if not form.is_valid():
                    errors = "; ".join(e for es in form.errors.values() for e in es)
                    self.message_user(request, f"Not scheduled: {errors}", messages.ERROR)
                    return HttpResponseRedirect(change_url)
                campaign = schedule_campaign(
                    campaign=campaign, send_at=form.cleaned_data["send_at"]
                )
                when = timezone.localtime(campaign.send_at).strftime("%Y-%m-%d %H:%M %Z")
                self.message_user(request, f"“{campaign}” is scheduled for {when}.")
            elif step in SERVICES:
                campaign = SERVICES[step](campaign=campaign)
                self.message_user(
                    request, f"“{campaign}” is now {campaign.get_status_display().lower()}."
                )
            else:
                raise PermissionDenied
        except CampaignError as error:
            self.message_user(request, str(error), messages.ERROR)
        return HttpResponseRedirect(change_url)

    def _report_test(self, request: HttpRequest, delivery: Delivery) -> None:
        if delivery.status == DeliveryStatus.QUEUED:
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
                service(campaign=campaign)
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


# --- Deliveries, suppressions, provider events -------------------------------------------------


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Every message and what became of it. The recipient is masked; the address, the account
    link (shown as an address) and the context (signed links) are never displayed."""

    list_display = ("id", "kind", "campaign", "status", "recipient", "attempts", "created_at")
    list_filter = ("status", "kind", "campaign")
    list_select_related = ("campaign", "user")
    fields = (
        "kind",
        "campaign",
        "recipient",
        "status",
        "attempts",
        "error",
        "provider_message_id",
        "message_id",
        "created_at",
        "claimed_at",
        "next_attempt_at",
        "sent_at",
        "unsubscribed_at",
    )
    readonly_fields = fields
    ordering = ("-id",)
    show_full_result_count = False

    @admin.display(description="recipient")
    def recipient(self, obj: Delivery) -> str:
        return describe_recipient(obj)

    @admin.display(description="last error")
    def error(self, obj: Delivery) -> str:
        return mask_addresses_in(obj.last_error)


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
    """Webhook events as received. The recipient's address (kept only until processed) is not
    shown; its hash prefix is enough to match events together."""

    list_display = (
        "received_at",
        "esp_name",
        "event_type",
        "recipient_hash_prefix",
        "delivery",
        "processed_at",
        "outcome",
    )
    list_filter = ("esp_name", "event_type")
    list_select_related = ("delivery",)
    fields = (
        "esp_name",
        "event_id",
        "event_type",
        "reject_reason",
        "is_soft_bounce",
        "recipient_hash_prefix",
        "message_id",
        "delivery",
        "delivery_ref",
        "redacted_description",
        "occurred_at",
        "received_at",
        "processed_at",
        "outcome",
    )
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="recipient hash")
    def recipient_hash_prefix(self, obj: ProviderEvent) -> str:
        return f"{obj.recipient_hash[:12]}…" if obj.recipient_hash else "—"

    @admin.display(description="description")
    def redacted_description(self, obj: ProviderEvent) -> str:
        return mask_addresses_in(obj.description)


class SuppressionAddForm(forms.ModelForm):
    """The address is hashed by ``suppress_address``; only the hash is kept."""

    address = forms.EmailField(help_text="Hashed before it is stored; the address is not kept.")

    class Meta:
        model = Suppression
        fields = ("address", "reason", "detail")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].initial = Suppression.Reason.MANUAL


class LiftSuppressionForm(forms.Form):
    """The person's address, typed by staff, must be the one this row holds the hash of."""

    address = forms.EmailField(
        help_text="The address the person asked us to email again; it must match this "
        "suppression. It is not stored."
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Who asked, when and how (recorded with your name).",
    )

    def __init__(self, *args, suppression: Suppression, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.suppression = suppression

    def clean_address(self) -> str:
        address = self.cleaned_data["address"]
        if address_hash(address) != self.suppression.address_hash:
            raise forms.ValidationError("This is not the address of this suppression.")
        return address


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Addresses never to be emailed again, by hash. A suppression is lifted only through
    ``lift_suppression`` (its own page, with the person's address and a reason), which
    records who lifted it and why; Django's delete is not offered."""

    list_display = ("hash_prefix", "reason", "detail", "created_at")
    list_filter = ("reason",)
    fields = ("hash_prefix", "reason", "detail", "created_at")
    readonly_fields = fields
    show_full_result_count = False
    change_form_template = "admin/communications/suppression/change_form.html"

    def get_form(self, request: HttpRequest, obj: Suppression | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = SuppressionAddForm
            kwargs["fields"] = SuppressionAddForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Suppression | None = None) -> tuple:
        return self.fields if obj is not None else SuppressionAddForm.Meta.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Suppression | None = None):
        return self.readonly_fields if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Django's delete (and the bulk delete action) would remove the row unrecorded.
        return False

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    @admin.display(description="address hash")
    def hash_prefix(self, obj: Suppression) -> str:
        return f"{obj.address_hash[:12]}…"

    def save_model(self, request: HttpRequest, obj: Suppression, form, change: bool) -> None:
        if change:
            raise PermissionDenied("A suppression can't be changed; lift it instead.")
        saved = suppress_address(
            form.cleaned_data["address"],
            reason=form.cleaned_data["reason"],
            detail=form.cleaned_data["detail"],
        )
        for field in Suppression._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.db = saved._state.db

    def get_urls(self):
        lift = path(
            "<int:object_id>/lift/",
            self.admin_site.admin_view(self.lift_view),
            name="communications_suppression_lift",
        )
        return [lift, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if self.has_lift_permission(request):
            extra_context["lift_url"] = reverse(
                "admin:communications_suppression_lift", args=(object_id,)
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def lift_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_lift_permission(request):
            raise PermissionDenied
        suppression = get_object_or_404(Suppression, pk=object_id)
        form = LiftSuppressionForm(request.POST or None, suppression=suppression)
        if request.method == "POST" and form.is_valid():
            try:
                lift = lift_suppression(
                    address=form.cleaned_data["address"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except SuppressionError as error:
                form.add_error(None, str(error))
            else:
                if lift is None:
                    self.message_user(request, "It had already been lifted.", messages.WARNING)
                else:
                    self.message_user(
                        request, "Suppression lifted; the lift is recorded.", messages.SUCCESS
                    )
                return HttpResponseRedirect(reverse("admin:communications_suppression_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Lift a suppression",
            "opts": self.opts,
            "original": suppression,
            "form": form,
            "back": reverse("admin:communications_suppression_change", args=(suppression.pk,)),
        }
        return TemplateResponse(request, "admin/communications/suppression/lift.html", context)


@admin.register(SuppressionLift)
class SuppressionLiftAdmin(ReadOnlyAdmin):
    """Who lifted which suppression, when and why: read-only, as the rows are append-only."""

    list_display = ("lifted_at", "hash_prefix", "suppressed_reason", "lifted_by", "reason")
    list_filter = ("suppressed_reason",)
    list_select_related = ("lifted_by",)
    fields = (
        "hash_prefix",
        "suppressed_reason",
        "suppressed_detail",
        "suppressed_at",
        "reason",
        "lifted_by",
        "lifted_at",
    )
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="address hash")
    def hash_prefix(self, obj: SuppressionLift) -> str:
        return f"{obj.address_hash[:12]}…"


from . import admin_policy  # noqa: E402, F401 - drafts, publications, business transitions
