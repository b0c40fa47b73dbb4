"""Taking an order from the shop's checkout: the order, its customer, the order form's marketing
choice and the disclosures to the bank and the carrier, in one transaction.

The rules (docs/SHARING.md, "Orders"):

- The customer is found by email address, whatever its case. An open account is linked; a new
  address gets an account with no password (nobody can log in with it until the person signs
  up or resets a password), as a newsletter subscriber does.
- An address whose account is closed (deactivated, or on its way to erasure) or that belonged
  to an erased account (its hash is on the do-not-email list for that reason) is never linked
  and never gets a new account: the order is kept without the customer and without their name
  or address, with no marketing choice and no disclosure logged. The register refuses a
  disclosure of a closed account's data unless the law requires it, and an erased person asked
  us to hold nothing about them: an order does not rebuild that record.
- The order form's box: ticked, the customer is withdrawn from special offers (recorded even
  if they were never asked, as proof they said no). Not ticked, a customer never asked about
  special offers is granted them on the soft opt-in basis; an earlier "no" stands, an earlier
  "yes" is kept, and an address on the do-not-email list is never granted them. Nothing else
  (newsletter, surveys, partner offers) is given or taken by the box.
- The bank (card authorisation) and the carrier (delivery) receive the name and postal
  address on the basis of the contract, logged with the order reference and the system's key
  as the one disclosing. A disclosure the register refuses (a party ended, say) is left out
  and reported in the answer; it never stops the order being recorded.
- A repeat of a request (same system, same reference, same body) gets the first answer and
  writes nothing; the same reference with another body raises ``OrderConflict``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from api_keys.models import SystemAPIKey
from communications.addresses import address_hash
from communications.models import Suppression
from consent.models import CurrentConsent, Purpose
from consent.services import ConsentSource, record_decisions
from consent.services import LegalBasis as ConsentBasis
from privacy_site.auth_user import AuthUser
from sharing.models import DataCategory, DisclosurePurpose, LegalBasis, ThirdParty
from sharing.order_models import CustomerStatus, Order, OrderLine

from .disclosures import DisclosureRefused, record_disclosure

logger = logging.getLogger(__name__)

# The words of the order form's box. The checkout shows exactly these; the consent ledger
# records them with the customer's choice.
OPT_OUT_WORDING = (
    "Tick this box if you do not want to receive special offers and updates from Jessops by email."
)
# What the bank and the carrier receive (the policy: "your name and address").
ORDER_CATEGORIES = [DataCategory.NAME, DataCategory.POSTAL_ADDRESS]


@dataclass(frozen=True, kw_only=True)
class PostalAddress:
    line_1: str
    town: str
    postcode: str
    line_2: str = ""


@dataclass(frozen=True, kw_only=True)
class OrderCustomer:
    email: str
    first_name: str
    last_name: str
    address: PostalAddress


@dataclass(frozen=True, kw_only=True)
class OrderItem:
    product: str
    supplier: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class OrderRequest:
    """An order as the checkout sends it, already checked for shape (the API's serializer)."""

    reference: str
    customer: OrderCustomer
    lines: Sequence[OrderItem]
    marketing_opt_out: bool
    referring_site: str = ""
    carrier: str = ""

    def digest(self) -> str:
        """SHA-256 of the request's canonical JSON: the same order, however it was spelt."""
        canonical = asdict(self)
        canonical["customer"]["email"] = canonical["customer"]["email"].lower()
        canonical["lines"] = list(canonical["lines"])
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


class OrderError(ValueError):
    """The order can't be taken as sent; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{field}: {' '.join(m)}" for field, m in errors.items()))
        self.errors = errors


class OrderConflict(Exception):
    """The reference was used already, for an order with another body; nothing was written."""


@dataclass(frozen=True)
class TakenOrder:
    order: Order
    answer: dict[str, Any]
    repeated: bool  # True: the first answer given again, nothing written


def take_order(*, system: SystemAPIKey, request: OrderRequest) -> TakenOrder:
    """Record ``request`` from ``system`` (see the module's rules), or give back the first
    answer to the same request. Raises ``OrderConflict`` for a reused reference and
    ``OrderError`` for a carrier the register does not know; nothing is written then."""
    digest = request.digest()
    first = _first_order(system, request.reference)
    if first is not None:
        return _repeat(first, request.reference, digest)
    try:
        with transaction.atomic():
            return _take(system=system, request=request, digest=digest)
    except IntegrityError:
        # The same order, sent twice at once: the other request's row was committed first.
        first = _first_order(system, request.reference)
        if first is None:
            raise
        return _repeat(first, request.reference, digest)


def _first_order(system: SystemAPIKey, reference: str) -> Order | None:
    return Order.objects.filter(system=system, reference=reference).first()


def _repeat(order: Order, reference: str, digest: str) -> TakenOrder:
    if order.request_digest != digest:
        raise OrderConflict(
            f"Order {reference} was received already with different details; an order "
            "reference is used once. Send the same request again to get its answer."
        )
    return TakenOrder(order=order, answer=order.answer, repeated=True)


def _take(*, system: SystemAPIKey, request: OrderRequest, digest: str) -> TakenOrder:
    bank, carrier = _recipients(request.carrier)
    status, customer, suppressed = _customer_for(request.customer)
    if customer is not None:
        special_offers = _order_form_choice(
            customer=customer, opted_out=request.marketing_opt_out, suppressed=suppressed
        )
        disclosures, refused = _disclose(
            customer=customer,
            bank=bank,
            carrier=carrier,
            system=system,
            reference=request.reference,
        )
    else:
        special_offers, disclosures, refused = None, [], []
    now = timezone.now()
    answer = {
        "reference": request.reference,
        "received_at": now.isoformat().replace("+00:00", "Z"),
        "customer": {"id": customer.pk if customer else None, "status": str(status)},
        "special_offers": special_offers,
        "disclosures": disclosures,
        "refused": refused,
    }
    details = request.customer
    linked = {}
    if customer is not None:
        linked = {
            "delivery_name": f"{details.first_name} {details.last_name}".strip(),
            "address_line_1": details.address.line_1,
            "address_line_2": details.address.line_2,
            "town": details.address.town,
            "postcode": details.address.postcode,
        }
    order = Order.objects.create(
        system=system,
        reference=request.reference,
        request_digest=digest,
        customer=customer,
        customer_status=status,
        carrier=carrier,
        referring_site=request.referring_site,
        marketing_opt_out=request.marketing_opt_out,
        answer=answer,
        received_at=now,
        **linked,
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=order, product=line.product, supplier=line.supplier, quantity=line.quantity)
        for line in request.lines
    )
    return TakenOrder(order=order, answer=answer, repeated=False)


def _recipients(carrier_name: str) -> tuple[ThirdParty | None, ThirdParty | None]:
    """The bank and the carrier, in one query: the carrier the checkout named (it must be in
    the register for delivery, or ``OrderError``), or the default one. None for a party the
    register does not hold (reported as a refusal)."""
    names = {
        settings.ORDERS_BANK.lower(),
        (carrier_name or settings.ORDERS_DEFAULT_CARRIER).lower(),
    }
    parties = {
        party.name.lower(): party
        for party in ThirdParty.objects.annotate(lower_name=Lower("name")).filter(
            lower_name__in=names
        )
    }
    bank = parties.get(settings.ORDERS_BANK.lower())
    carrier = parties.get((carrier_name or settings.ORDERS_DEFAULT_CARRIER).lower())
    if carrier_name and (carrier is None or DisclosurePurpose.DELIVERY not in carrier.purposes):
        raise OrderError(
            {
                "carrier": [
                    f"No parcel carrier named {carrier_name!r} is in the register of third parties."
                ]
            }
        )
    return bank, carrier


def _customer_for(
    details: OrderCustomer,
) -> tuple[CustomerStatus, AuthUser | None, bool]:
    """(status, the customer or None, whether the address is on the do-not-email list)."""
    users = get_user_model().objects
    email = users.normalize_email(details.email).lower()
    suppression = (
        Suppression.objects.filter(address_hash=address_hash(email))
        .values_list("reason", flat=True)
        .first()
    )
    user = users.filter(email__iexact=email).first()
    if user is None and suppression == Suppression.Reason.ERASURE:
        return CustomerStatus.ERASED, None, True
    if user is None:
        try:
            # A savepoint, so two orders racing for a new address don't break the outer
            # transaction: the loser finds the account the winner created.
            with transaction.atomic():
                user = users.create_user(
                    email, None, first_name=details.first_name, last_name=details.last_name
                )
                return CustomerStatus.NEW, user, suppression is not None
        except (IntegrityError, ValidationError):
            # The account's own check of the address's uniqueness may see the winner's row
            # first (ValidationError) or the database may refuse the second row (IntegrityError).
            user = users.filter(email__iexact=email).first()
            if user is None:
                raise
    if not user.is_active:
        return CustomerStatus.CLOSED, None, suppression is not None
    return CustomerStatus.EXISTING, user, suppression is not None


def _order_form_choice(*, customer: AuthUser, opted_out: bool, suppressed: bool) -> dict[str, Any]:
    """Record the box's answer for special offers; the state in force afterwards."""
    # Lock the customer before reading their state: two orders at once decide in turn.
    list(get_user_model().objects.select_for_update().filter(pk=customer.pk).values_list("pk"))
    current = CurrentConsent.objects.filter(
        subject=customer, purpose__code=Purpose.SPECIAL_OFFERS
    ).first()
    events = []
    if opted_out:
        events = record_decisions(
            subject=customer,
            choices={Purpose.SPECIAL_OFFERS: False},
            source=ConsentSource.ORDER_FORM,
            wording={Purpose.SPECIAL_OFFERS: OPT_OUT_WORDING},
            record_refusals=True,
        )
    elif current is None and not suppressed:
        events = record_decisions(
            subject=customer,
            choices={Purpose.SPECIAL_OFFERS: True},
            source=ConsentSource.ORDER_FORM,
            legal_basis=ConsentBasis.SOFT_OPT_IN,
            wording={Purpose.SPECIAL_OFFERS: OPT_OUT_WORDING},
        )
    if events:
        granted, basis = events[0].granted, events[0].legal_basis
    elif current is not None:
        granted, basis = current.granted, current.legal_basis
    else:
        granted, basis = False, None
    return {"granted": granted, "legal_basis": basis, "changed": bool(events)}


def _disclose(
    *,
    customer: AuthUser,
    bank: ThirdParty | None,
    carrier: ThirdParty | None,
    system: SystemAPIKey,
    reference: str,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Log the name and address going to the bank and the carrier; (logged, refused)."""
    recipients = [
        (bank, settings.ORDERS_BANK, DisclosurePurpose.CARD_AUTHORISATION),
        (carrier, settings.ORDERS_DEFAULT_CARRIER, DisclosurePurpose.DELIVERY),
    ]
    logged, refused = [], []
    for party, name, purpose in recipients:
        if party is None:
            refused.append(
                {
                    "recipient": name,
                    "rule": "not_in_register",
                    "detail": f"{name} is not in the register of third parties.",
                }
            )
            logger.error("order %s: %s is not in the register", reference, name)
            continue
        try:
            disclosure = record_disclosure(
                person=customer,
                party=party,
                categories=ORDER_CATEGORIES,
                purpose=purpose,
                legal_basis=LegalBasis.CONTRACT,
                reference=f"order {reference}",
                system=system,
            )
        except DisclosureRefused as refusal:
            refused.append(
                {"recipient": party.name, "rule": str(refusal.rule), "detail": str(refusal)}
            )
            logger.error("order %s: %s", reference, refusal)
            continue
        logged.append(
            {
                "id": disclosure.pk,
                "recipient": party.name,
                "purpose": str(purpose),
                "legal_basis": str(LegalBasis.CONTRACT),
                "categories": list(disclosure.categories),
            }
        )
    return logged, refused
