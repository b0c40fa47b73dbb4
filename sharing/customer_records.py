"""What the sharing app holds about a customer besides the disclosure log: their orders and
their Jessops Photo memberships, for their copy and for erasure (``sharing.privacy`` calls
these).

Erasure keeps each order's lines (what was bought, from which supplier: the aggregate figures
for suppliers are made of them, and they name no one) and its date, and removes the delivery
name and address, the order reference and the stored answer. An open Jessops Photo membership
is ended, and CEWE is to be told.
"""

from __future__ import annotations

from django.db import transaction

from privacy_site.auth_user import AuthUser
from sharing.order_models import Order
from sharing.photo_models import LeftBecause
from sharing.selectors import photo_memberships_for
from sharing.services.photo_service import leave_photo_service, open_membership

KEPT_ON_ERASURE = [
    {
        "what": "Your orders' dates and what was in them (products, suppliers, quantities), "
        "without the order references, your name or your address",
        "why": "We keep the accounts of our sales as the law requires, and count what sells "
        "for our suppliers without saying who bought it.",
    },
    {
        "what": "When you joined and left Jessops Photo, and when we told CEWE",
        "why": "To show that CEWE received your details because you asked, and was told "
        "when you left.",
    },
]


def _when(value) -> str | None:
    return value.isoformat() if value else None


def _delivered_to(order: Order) -> str:
    parts = (
        order.delivery_name,
        order.address_line_1,
        order.address_line_2,
        order.town,
        order.postcode,
    )
    return ", ".join(part for part in parts if part)


def export_orders_and_memberships(user: AuthUser) -> dict:
    orders = Order.objects.filter(customer_id=user.pk).prefetch_related("lines")
    return {
        "orders": [
            {
                "order": order.reference or "",
                "received": _when(order.received_at),
                "delivered_to": _delivered_to(order),
                "what": [
                    f"{line.quantity} x {line.product} ({line.supplier})"
                    for line in order.lines.all()
                ],
                "no_special_offers_box_ticked": order.marketing_opt_out,
            }
            for order in orders
        ],
        "jessops_photo": [
            {
                "joined": _when(membership.joined_at),
                "left": _when(membership.left_at),
                "cewe_told_you_left": _when(membership.notified_at),
            }
            for membership in photo_memberships_for(user=user)
        ],
    }


@transaction.atomic
def erase_orders_and_memberships(user: AuthUser) -> None:
    Order.objects.filter(customer_id=user.pk).update(
        reference=None,
        answer={},
        delivery_name="",
        address_line_1="",
        address_line_2="",
        town="",
        postcode="",
    )
    if open_membership(person=user) is not None:
        leave_photo_service(person=user, because=LeftBecause.ERASURE)
