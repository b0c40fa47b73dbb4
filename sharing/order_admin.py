"""Staff views of the orders the checkout sent: read-only, as only ``take_order`` writes them.

The delivery name and address are shown to staff holding ``sharing.view_order`` (Dispatch and
Web Sales: the people whose job needs them); nobody adds, changes or deletes an order here.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from privacy_site.admin_tools import ReadOnlyAdmin, ReadOnlyInline
from sharing.order_models import Order, OrderLine
from staff_access.admin_audit import PersonalDataAdmin


class OrderLineInline(ReadOnlyInline, admin.TabularInline):
    model = OrderLine
    fields = readonly_fields = ("product", "supplier", "quantity")

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The lines are part of the order: whoever sees the order sees them.
        return request.user.has_perm("sharing.view_order")


class RefusedDisclosureFilter(admin.SimpleListFilter):
    """Orders whose disclosure to the bank or the carrier the register refused: the register
    needs fixing, and that party must not have been given the data."""

    title = "disclosures refused"
    parameter_name = "refused"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Some refused"), ("no", "None refused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() == "yes":
            return queryset.filter(answer__has_key="refused").exclude(answer__refused=[])
        if self.value() == "no":
            return queryset.filter(answer__refused=[])
        return queryset


@admin.register(Order)
class OrderAdmin(PersonalDataAdmin, ReadOnlyAdmin):
    person_field = "customer_id"

    list_display = (
        "received_at",
        "reference",
        "system",
        "customer_status",
        "customer",
        "carrier",
        "marketing_opt_out",
    )
    list_filter = ("customer_status", "marketing_opt_out", RefusedDisclosureFilter, "system")
    list_select_related = ("system", "customer", "carrier")
    search_fields = ("reference", "customer__email")
    date_hierarchy = "received_at"
    show_full_result_count = False
    inlines = (OrderLineInline,)
    fields = readonly_fields = (
        "reference",
        "received_at",
        "system",
        "customer_status",
        "customer",
        "delivery_name",
        "address_line_1",
        "address_line_2",
        "town",
        "postcode",
        "carrier",
        "referring_site",
        "marketing_opt_out",
        "answer",
    )
