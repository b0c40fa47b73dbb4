"""What the sharing app holds about a customer besides the disclosure log: their orders and
their Jessops Photo memberships, for their copy and for erasure (``sharing.privacy`` calls
these).

Erasure keeps each order's lines (what was bought, from which supplier: the aggregate figures
for suppliers are made of them, and they name no one) and its date, and removes the delivery
name and address, the order reference and the stored answer. An open Jessops Photo membership
is ended, and CEWE's erasure notice is what tells it (one notice, not two).
"""

from __future__ import annotations

from django.db import transaction

from privacy_site.auth_user import AuthUser
from sharing.notification_models import RecipientNotification
from sharing.order_models import Order
from sharing.selectors import photo_memberships_for
from sharing.services.photo_service import end_memberships_on_erasure

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
                "cewe_told_you_left": _when(membership.party_told_at),
            }
            for membership in photo_memberships_for(user=user)
        ],
    }


@transaction.atomic
def erase_orders_and_memberships(
    user: AuthUser, *, erasure_notices: list[RecipientNotification]
) -> None:
    Order.objects.filter(customer_id=user.pk).update(
        reference=None,
        answer={},
        delivery_name="",
        address_line_1="",
        address_line_2="",
        town="",
        postcode="",
    )
    end_memberships_on_erasure(person=user, erasure_notices=erasure_notices)
