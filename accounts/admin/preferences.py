"""A customer's preferences on their page in the admin, and Customer Support recording a
change the customer asked for: ``/admin/accounts/user/<id>/preferences/``.

Seeing them needs ``consent.view_currentconsent``; recording a change needs
``consent.add_consentevent`` and goes through
``communications.services.preferences.record_preferences_for_customer`` (ledger source
``staff``, with the member of staff; the customer is sent a receipt).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.models import User
from communications.services.preferences import (
    RECORD_FOR_CUSTOMER,
    record_preferences_for_customer,
)
from consent.selectors import consent_status
from consent.services import ConsentError
from privacy_site.admin_tools import admin_path, object_page
from privacy_site.auth_user import logged_in_user
from privacy_site.masking import mask_address
from privacy_site.need_to_know import viewer_of
from staff_access.recording import note_access

VIEW_PREFERENCES = "consent.view_currentconsent"


# The staff access record names this page so (docs/STAFF.md).
PREFERENCES_PAGE = "admin:accounts_user_preferences"


class CustomerPreferences(admin.ModelAdmin):
    """Mixed into the user admin: the preferences page and the link to it."""

    def may_view_preferences(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(VIEW_PREFERENCES)

    def get_urls(self):
        page = admin_path(
            self, "<path:object_id>/preferences/", self.preferences_view, "preferences"
        )
        return [page, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if self.may_view_preferences(request):
            extra_context["preferences_url"] = reverse(
                "admin:accounts_user_preferences", args=(object_id,)
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def preferences_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.may_view_preferences(request):
            raise PermissionDenied
        customer = self.get_object(request, unquote(object_id))
        if customer is None:
            raise Http404("No such account.")
        staff = logged_in_user(request)
        may_record = staff.has_perm(RECORD_FOR_CUSTOMER) and customer.is_active
        states = [state for state in consent_status(subject=customer).values()]
        errors = ""
        if request.method == "POST":
            if not staff.has_perm(RECORD_FOR_CUSTOMER):
                raise PermissionDenied
            granted = set(request.POST.getlist("granted"))
            choices = {s.purpose.code: s.purpose.code in granted for s in states if not s.mandatory}
            try:
                changed = record_preferences_for_customer(
                    subject=customer, choices=choices, actor=staff
                )
            except ConsentError as error:
                errors = str(error)
            else:
                note_access(
                    request,
                    action="change",
                    page=PREFERENCES_PAGE,
                    subject_ids=[customer.pk],
                    fields=["preferences"],
                )
                self.message_user(
                    request,
                    f"{len(changed)} change(s) recorded in the customer's name; they have been "
                    "sent a receipt."
                    if changed
                    else "Nothing changed: every choice was already so.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(request.path)
        note_access(
            request,
            action="view",
            page=PREFERENCES_PAGE,
            subject_ids=[customer.pk],
            fields=["email", "preferences"],
        )
        return object_page(
            self,
            request,
            "admin/accounts/user/preferences.html",
            original=customer,
            title=f"Preferences of {shown_address(request, customer)}",
            states=states,
            may_record=may_record,
            errors=errors,
            status=400 if errors else 200,
        )


def shown_address(request: HttpRequest, customer: User) -> str:
    """The customer's address as this member of staff may see it."""
    if viewer_of(request).may_see(User, "email"):
        return customer.email
    return mask_address(customer.email)
