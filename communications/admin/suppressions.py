"""The suppression list, by hash only: an address typed into the add form is hashed by
``suppress_address`` and never stored. A suppression is lifted only by ``lift_suppression``, on
its own page, which records who lifted it and why; the lifts are shown read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from communications.addresses import address_hash
from communications.models import Suppression, SuppressionLift
from communications.services import suppress_address
from communications.services.suppression import SuppressionError, lift_suppression
from privacy_site.admin_tools import (
    AddOnlyAdmin,
    ReadOnlyAdmin,
    admin_path,
    adopt_saved,
    object_page,
)
from privacy_site.auth_user import logged_in_user


def short_hash(value: str) -> str:
    """The start of an address hash: enough to match rows together, never the address."""
    return f"{value[:12]}…" if value else "—"


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
class SuppressionAdmin(AddOnlyAdmin):
    """Addresses never to be emailed again, by hash. A suppression is lifted only through
    ``lift_suppression`` (its own page, with the person's address and a reason), which
    records who lifted it and why; Django's delete (and the bulk delete action), which would
    remove the row unrecorded, is not offered."""

    add_form = SuppressionAddForm
    list_display = ("hash_prefix", "reason", "detail", "created_at")
    list_filter = ("reason",)
    fields = ("hash_prefix", "reason", "detail", "created_at")
    readonly_fields = fields
    show_full_result_count = False
    change_form_template = "admin/communications/suppression/change_form.html"

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    @admin.display(description="address hash")
    def hash_prefix(self, obj: Suppression) -> str:
        return short_hash(obj.address_hash)

    def save_model(self, request: HttpRequest, obj: Suppression, form, change: bool) -> None:
        if change:
            raise PermissionDenied("A suppression can't be changed; lift it instead.")
        saved = suppress_address(
            form.cleaned_data["address"],
            reason=form.cleaned_data["reason"],
            detail=form.cleaned_data["detail"],
            actor=logged_in_user(request),
        )
        assert saved is not None  # the form requires an address
        adopt_saved(obj, saved)

    def get_urls(self):
        lift = admin_path(self, "<int:object_id>/lift/", self.lift_view, "lift")
        return [lift, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        suppression = self.get_object(request, unquote(object_id))  # None: the admin says so
        if suppression is not None and self.has_lift_permission(request):
            extra_context["lift_url"] = reverse(
                "admin:communications_suppression_lift", args=(suppression.pk,)
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
                    actor=logged_in_user(request),
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
        return object_page(
            self,
            request,
            "admin/communications/suppression/lift.html",
            original=suppression,
            title="Lift a suppression",
            form=form,
            back=reverse("admin:communications_suppression_change", args=(suppression.pk,)),
        )


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
        return short_hash(obj.address_hash)
