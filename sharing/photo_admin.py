"""Staff view of Jessops Photo memberships, and where staff record that CEWE was told a member
left (``sharing.record_photo_leave_notice``). Memberships are written only by
``sharing.services.photo_service``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from privacy_site.admin_tools import ReadOnlyAdmin, admin_path, object_page
from privacy_site.auth_user import logged_in_user
from privacy_site.need_to_know_admin import NeedToKnowAdmin
from sharing.photo_models import LeaveNotice, PhotoServiceMembership
from sharing.services.photo_service import (
    RECORD_NOTICE,
    PhotoServiceError,
    membership_reference,
    record_leave_notified,
)


class NoticeForm(forms.Form):
    detail = forms.CharField(
        label="How CEWE was told",
        max_length=300,
        help_text="For example: by email to CEWE's privacy contact, on 3 March; or through "
        "CEWE's partner portal. Recorded with your name.",
    )


@admin.register(PhotoServiceMembership)
class PhotoServiceMembershipAdmin(NeedToKnowAdmin, ReadOnlyAdmin):
    list_display = ("joined_at", "person", "left_at", "left_because", "leave_notice", "notified_at")
    list_filter = ("leave_notice", "left_because")
    list_select_related = ("person",)
    search_fields = ("person__email",)
    fields = readonly_fields = (
        "person",
        "party",
        "reference",
        "joined_at",
        "disclosure",
        "left_at",
        "left_because",
        "leave_notice",
        "notified_at",
        "notified_by",
        "notice_detail",
    )
    change_form_template = "admin/sharing/photoservicemembership/change_form.html"

    @admin.display(description="reference CEWE was given")
    def reference(self, obj: PhotoServiceMembership) -> str:
        return membership_reference(obj)

    def has_record_notice_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RECORD_NOTICE)

    def get_urls(self):
        notified = admin_path(self, "<path:object_id>/notified/", self.notified_view, "notified")
        return [notified, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        membership = PhotoServiceMembership.objects.filter(pk=unquote(object_id)).first()
        if (
            membership is not None
            and membership.leave_notice == LeaveNotice.TO_NOTIFY
            and self.has_record_notice_permission(request)
        ):
            extra_context["notified_url"] = reverse(
                "admin:sharing_photoservicemembership_notified", args=(object_id,)
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def notified_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_record_notice_permission(request):
            raise PermissionDenied
        membership = get_object_or_404(PhotoServiceMembership, pk=unquote(object_id))
        back = reverse("admin:sharing_photoservicemembership_change", args=(object_id,))
        form = NoticeForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                record_leave_notified(
                    membership=membership,
                    actor=logged_in_user(request),
                    detail=form.cleaned_data["detail"],
                )
            except PhotoServiceError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, "Recorded: CEWE was told.", messages.SUCCESS)
            return HttpResponseRedirect(back)
        return object_page(
            self,
            request,
            "admin/sharing/photoservicemembership/notified.html",
            original=membership,
            title="Record that CEWE was told this member left",
            form=form,
            back=back,
            reference=membership_reference(membership),
        )
