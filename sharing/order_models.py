"""Orders the shop's checkout sends (``POST /api/v1/orders/``): one ``Order`` per order
reference and system, with its ``OrderLine`` rows.

Written only by ``sharing.services.orders.take_order``, which records, in the same
transaction, the customer, the order form's marketing choice (consent ledger) and the
disclosures to the bank and the carrier. An order keeps the delivery name and address only
while it is linked to a customer whose account is open; erasure empties them, with the
order's reference and its stored answer (``sharing.privacy``). The lines stay: they are what
the aggregate figures for suppliers are made of, and they name no one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from api_keys.models import SystemAPIKey


class CustomerStatus(models.TextChoices):
    """Who the order's customer turned out to be, found by email address."""

    NEW = "new", "New customer (account created, no password)"
    EXISTING = "existing", "Existing customer"
    CLOSED = "closed", "Account closed: order kept without the customer"
    ERASED = "erased", "Address of an erased account: order kept without the customer"


# The statuses whose orders point at a customer and keep the delivery details.
LINKED_STATUSES = (CustomerStatus.NEW, CustomerStatus.EXISTING)


class Order(models.Model):
    """One order from one of the shop's systems, as first received.

    ``(system, reference)`` is unique: a repeat of the same request gets ``answer`` back and
    writes nothing; the same reference with another body is refused (``request_digest``)."""

    system = models.ForeignKey(SystemAPIKey, on_delete=models.PROTECT, related_name="+")
    # NULL, not "", once erased: the reference is unique per system while it is kept.
    reference = models.CharField(  # noqa: DJ001
        max_length=100,
        null=True,
        blank=True,
        help_text="The shop's order reference; emptied when the customer's data is erased.",
    )
    request_digest = models.CharField(
        max_length=64, help_text="SHA-256 of the request as received (its canonical JSON)."
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        help_text="Empty when the address belonged to a closed or erased account.",
    )
    customer_status = models.CharField(max_length=10, choices=CustomerStatus.choices)
    delivery_name = models.CharField(max_length=110, blank=True)
    address_line_1 = models.CharField("address line 1", max_length=100, blank=True)
    address_line_2 = models.CharField("address line 2", max_length=100, blank=True)
    town = models.CharField("town or city", max_length=60, blank=True)
    postcode = models.CharField(max_length=8, blank=True)
    carrier = models.ForeignKey(
        "sharing.ThirdParty",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The parcel carrier the checkout named (or the default one).",
    )
    referring_site = models.URLField(
        max_length=300,
        blank=True,
        help_text="The supplier's site the customer came from, if any (for aggregate figures).",
    )
    marketing_opt_out = models.BooleanField(
        help_text="The customer ticked the order form's box: no special offers."
    )
    answer = models.JSONField(
        default=dict,
        blank=True,
        help_text="The API's first answer, given again to a repeat of the request.",
    )
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "reference"], name="sharing_order_reference_once_per_system"
            ),
            # A closed or erased customer's order holds none of their details.
            models.CheckConstraint(
                condition=Q(customer_status__in=LINKED_STATUSES, customer__isnull=False)
                | Q(
                    ~Q(customer_status__in=LINKED_STATUSES),
                    customer__isnull=True,
                    delivery_name="",
                    address_line_1="",
                    address_line_2="",
                    town="",
                    postcode="",
                ),
                name="sharing_order_unlinked_keeps_no_details",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-received_at"], name="sharing_order_customer"),
        ]

    def __str__(self) -> str:
        return f"Order {self.reference or '(erased)'} ({self.received_at:%d %b %Y})"


class OrderLine(models.Model):
    """One product of an order: what, from which supplier, how many."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    product = models.CharField(max_length=200)
    supplier = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="sharing_orderline_quantity_positive"
            ),
        ]
        indexes = [models.Index(fields=["supplier"], name="sharing_orderline_supplier")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product}"
