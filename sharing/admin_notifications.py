"""Staff views of the Article 19 notices: one row per party to tell of a correction or an
erasure, its state, how it went or must go, when, and the result; each with its steps.

Notices are written and sent only by ``sharing.services.notifications``: nobody adds, changes
or deletes one here. A party the register gives no address or endpoint (or whose notice
failed) is told by staff, who then record it with the "mark notified (by post or phone)"
action: by whom, how and what was said, in the notice and its append-only steps.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from privacy_site.admin_tools import ReadOnlyAdmin, ReadOnlyInline
from privacy_site.auth_user import logged_in_user
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from sharing.models import DataCategory
from sharing.notification_models import (
    BY_HAND_METHODS,
    NoticeMethod,
    RecipientNotification,
    RecipientNotificationStep,
)
from sharing.services import NotificationError, record_notified_by_hand
from staff_access.admin_audit import PersonalDataAdmin


class RecipientNotificationStepInline(ReadOnlyInline, admin.TabularInline):
    model = RecipientNotificationStep
    fields = readonly_fields = ("at", "kind", "actor", "detail")
    ordering = ("id",)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # A notice's history is part of it: whoever sees the notice sees its steps.
        return request.user.has_perm("sharing.view_recipientnotification")


class ByHandForm(forms.Form):
    method = forms.ChoiceField(
        choices=[(method, NoticeMethod(method).label) for method in BY_HAND_METHODS],
        widget=forms.RadioSelect,
        label="How the party was told",
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        label="What was sent or said, and to whom",
        help_text="Recorded with your name in each notice's steps.",
    )


@admin.register(RecipientNotification)
class RecipientNotificationAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
    person_field = "person_id"

    list_display = (
        "created_at",
        "party",
        "event",
        "state",
        "method_display",
        "attempts",
        "notified_at",
        "notified_by",
        "result_start",
    )
    list_filter = ("state", "method", "event", "party")
    list_select_related = ("party", "notified_by")
    search_fields = ("party__name", "person__email", "=notice_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (RecipientNotificationStepInline,)
    actions = ("mark_notified_by_hand",)
    fields = readonly_fields = (
        "notice_id",
        "party",
        "person",
        "event",
        "category_list",
        "references",
        "occurred_at",
        "method_display",
        "state",
        "attempts",
        "next_attempt_at",
        "delivery_link",
        "notified_at",
        "notified_by",
        "result",
        "created_at",
    )

    def has_record_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sharing.record_recipientnotification")

    @admin.display(description="how")
    def method_display(self, obj: RecipientNotification) -> str:
        return obj.get_method_display() if obj.method else "by staff (no address or endpoint)"

    @admin.display(description="kinds of data")
    def category_list(self, obj: RecipientNotification) -> str:
        labels = dict(DataCategory.choices)
        return ", ".join(labels.get(value, value) for value in obj.categories)

    @admin.display(description="result")
    def result_start(self, obj: RecipientNotification) -> str:
        return obj.result if len(obj.result) <= 80 else obj.result[:79] + "…"

    @admin.display(description="email")
    def delivery_link(self, obj: RecipientNotification) -> str:
        if obj.delivery_id is None:
            return "-"
        url = reverse("admin:communications_delivery_change", args=(obj.delivery_id,))
        return format_html(
            '<a href="{}">outbox delivery {}</a> ({})',
            url,
            obj.delivery_id,
            obj.delivery.get_status_display() if obj.delivery is not None else "",
        )

    @admin.action(description="Mark notified (by post or phone)", permissions=["record"])
    def mark_notified_by_hand(
        self, request: HttpRequest, queryset: QuerySet[RecipientNotification]
    ) -> HttpResponse | None:
        form = ByHandForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._by_hand_page(request, queryset, form)
        recorded, refused = 0, []
        for notice in queryset.order_by("id"):
            try:
                record_notified_by_hand(
                    notification=notice,
                    actor=logged_in_user(request),
                    method=form.cleaned_data["method"],
                    note=form.cleaned_data["note"],
                )
            except NotificationError as error:
                refused.append(str(error))
            else:
                recorded += 1
                self._note_change(request, notice, ["state", "method", "note"])
        if recorded:
            self.message_user(
                request, f"{recorded} notice(s) recorded as given by hand.", messages.SUCCESS
            )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)
        return None

    def _by_hand_page(
        self, request: HttpRequest, queryset: QuerySet[RecipientNotification], form: ByHandForm
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Mark notified by post or phone",
            "opts": self.opts,
            "notices": queryset.select_related("party").order_by("id"),
            "form": form,
            "action": "mark_notified_by_hand",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/sharing/recipientnotification/by_hand.html", context
        )
