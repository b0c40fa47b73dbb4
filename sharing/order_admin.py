"""Staff views of the orders the checkout sent: read-only, as only ``take_order`` writes them.

Staff holding ``sharing.view_order`` see orders; which of an order's personal fields each
role sees is declared in ``sharing.need_to_know``: Dispatch the delivery name and address, Web
Sales the name and the ordering customer's name, email and phone. Nobody adds, changes or
deletes an order here.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from privacy_site.admin_tools import ReadOnlyAdmin, ReadOnlyInline
from privacy_site.need_to_know import shows
from privacy_site.need_to_know_admin import NeedToKnowAdmin
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
class OrderAdmin(PersonalDataAdmin, NeedToKnowAdmin, ReadOnlyAdmin):
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
    list_select_related = ("system", "customer", "customer__profile", "carrier")
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
        "customer_name",
        "customer_email",
        "customer_phone",
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

    @admin.display(description="customer's name")
    @shows("customer__first_name", "customer__last_name")
    def customer_name(self, obj: Order) -> str:
        return obj.customer.get_full_name() if obj.customer else "—"

    @admin.display(description="customer's email")
    @shows("customer__email")
    def customer_email(self, obj: Order) -> str:
        return obj.customer.email if obj.customer else "—"

    @admin.display(description="customer's phone")
    @shows("customer__profile__phone")
    def customer_phone(self, obj: Order) -> str:
        profile = getattr(obj.customer, "profile", None) if obj.customer else None
        return (profile.phone if profile else "") or "—"
