"""Staff view of business transfers: how far each has gone, why one is blocked, and resuming a
blocked one as oneself (``sharing.change_businesstransfer``) once the register is right."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from privacy_site.admin_tools import ReadOnlyAdmin
from privacy_site.auth_user import logged_in_user
from sharing.services.transfers import RESUME_PERMISSION, TransferError, resume_business_transfer
from sharing.transfer_models import BusinessTransfer


@admin.register(BusinessTransfer)
class BusinessTransferAdmin(ReadOnlyAdmin):
    list_display = (
        "transition",
        "party",
        "state",
        "people",
        "started_at",
        "completed_at",
        "authorised_by",
    )
    list_filter = ("state",)
    list_select_related = ("transition", "party", "authorised_by")
    actions = ("resume_action",)
    fields = readonly_fields = (
        "transition",
        "party",
        "reference",
        "state",
        "blocked_reason",
        "authorised_by",
        "people",
        "after_person",
        "up_to_person",
        "started_at",
        "updated_at",
        "completed_at",
    )

    @admin.display(description="reference on each disclosure")
    def reference(self, obj: BusinessTransfer) -> str:
        return obj.reference

    def has_resume_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RESUME_PERMISSION)

    @admin.action(description="Resume the selected blocked transfers as me", permissions=["resume"])
    def resume_action(self, request: HttpRequest, queryset: QuerySet[BusinessTransfer]) -> None:
        resumed = 0
        for transfer in queryset:
            try:
                resume_business_transfer(transfer=transfer, actor=logged_in_user(request))
            except TransferError as error:
                self.message_user(request, f"{transfer}: {error}", messages.WARNING)
            else:
                resumed += 1
        if resumed:
            self.message_user(
                request,
                f"{resumed} transfer(s) resumed: the next run carries on, naming you.",
                messages.SUCCESS,
            )
