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
from django.db.models import Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from api_keys.models import SystemAPIKey
from communications.addresses import address_hash
from communications.models import Suppression
from consent.models import Purpose
from consent.services import ConsentSource, record_collection_choice
from privacy_site.auth_user import AuthUser
from sharing.models import DataCategory, DisclosurePurpose, LegalBasis, ThirdParty
from sharing.order_models import CustomerStatus, Order, OrderLine

from .disclosures import DisclosureRefused, Recipient, record_disclosures_to

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
    ``OrderError`` for a carrier the register does not know; nothing is written then.

    A new reference, the usual case, is not looked up first: the order is taken, and the
    database's uniqueness of (system, reference) refuses the order's row when the reference
    was used already; the transaction is then rolled back, so the repeat writes nothing, and
    the first order answers it."""
    digest = request.digest()
    try:
        with transaction.atomic():
            return _take(system=system, request=request, digest=digest)
    except (_ReferenceTaken, OrderError) as error:
        # Also when the same order was sent twice at once: the other request's row was
        # committed first, and the insert waited for it.
        first = _first_order(system, request.reference)
        if first is None:
            if isinstance(error, _ReferenceTaken):
                raise error.refused from None
            raise
        return _repeat(first, request.reference, digest)


class _ReferenceTaken(Exception):
    """The database refused the order's row, most likely because a committed order holds
    (system, reference); ``refused`` is its error."""

    def __init__(self, refused: IntegrityError) -> None:
        super().__init__(str(refused))
        self.refused = refused


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
        choice = record_collection_choice(
            subject=customer,
            purpose=Purpose.SPECIAL_OFFERS,
            opted_out=request.marketing_opt_out,
            may_grant=not suppressed,
            source=ConsentSource.ORDER_FORM,
            wording=OPT_OUT_WORDING,
            subject_locked=True,  # _customer_for locked or inserted the row
        )
        special_offers: dict[str, Any] | None = asdict(choice)
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
    try:
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
    except IntegrityError as error:
        # Leaving the atomic block rolls back everything this request wrote.
        raise _ReferenceTaken(error) from error
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
    """(status, the customer or None, whether the address is on the do-not-email list).

    The customer's row comes back locked (``FOR UPDATE``), or inserted by this transaction:
    two orders for one person decide their marketing choice in turn."""
    users = get_user_model().objects
    email = users.normalize_email(details.email).lower()
    listed = Suppression.objects.filter(address_hash=address_hash(email))
    user = _locked_user(email, suppression=Subquery(listed.values("reason")[:1]))
    if user is not None:
        suppressed = user.suppression is not None
    else:
        suppression = listed.values_list("reason", flat=True).first()
        if suppression == Suppression.Reason.ERASURE:
            return CustomerStatus.ERASED, None, True
        suppressed = suppression is not None
        user, created = _new_customer(email, details)
        if created:
            return CustomerStatus.NEW, user, suppressed
    if not user.is_active:
        return CustomerStatus.CLOSED, None, suppressed
    return CustomerStatus.EXISTING, user, suppressed


def _locked_user(email: str, **annotations: Any) -> Any:
    """The account of ``email`` (stored lower case; found by the index on its lower case,
    whatever the case of an older row), locked; None if there is none."""
    return (
        get_user_model()
        .objects.alias(email_lower=Lower("email"))
        .filter(email_lower=email)
        .annotate(**annotations)
        .select_for_update(of=("self",))
        .first()
    )


def _new_customer(email: str, details: OrderCustomer) -> tuple[Any, bool]:
    """(A new account for ``email``, with no password: nobody can log in to it, True); or,
    when another order's account for the address was committed first, (that one, locked,
    False).

    The account is checked field by field as the user manager checks it, but its two
    constraints (one account per address whatever its case; a closed account stays closed)
    are left to the database, which enforces them on every path: asking first would cost a
    query each and still race with the other order."""
    user = get_user_model()(email=email, first_name=details.first_name, last_name=details.last_name)
    user.set_unusable_password()
    try:
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        raise OrderError({"customer": [" ".join(error.messages)]}) from error
    try:
        # A savepoint, so two orders racing for a new address don't break the outer
        # transaction: the loser waits for the winner's row, then finds it.
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        winner = _locked_user(email)
        if winner is None:
            raise
        return winner, False
    return user, True


def _disclose(
    *,
    customer: AuthUser,
    bank: ThirdParty | None,
    carrier: ThirdParty | None,
    system: SystemAPIKey,
    reference: str,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Log the name and address going to the bank and the carrier; (logged, refused). One
    statement: the parties were read, and the customer locked, in this transaction."""
    recipients = [
        (bank, settings.ORDERS_BANK, DisclosurePurpose.CARD_AUTHORISATION),
        (carrier, settings.ORDERS_DEFAULT_CARRIER, DisclosurePurpose.DELIVERY),
    ]
    present = [
        Recipient(party=party, purpose=purpose)
        for party, _name, purpose in recipients
        if party is not None
    ]
    outcomes = iter(
        record_disclosures_to(
            person=customer,
            recipients=present,
            categories=ORDER_CATEGORIES,
            legal_basis=LegalBasis.CONTRACT,
            reference=f"order {reference}",
            system=system,
            as_read_in_transaction=True,
        )
    )
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
        outcome = next(outcomes)
        if isinstance(outcome, DisclosureRefused):
            refused.append(
                {"recipient": party.name, "rule": str(outcome.rule), "detail": str(outcome)}
            )
            logger.error("order %s: %s", reference, outcome)
            continue
        logged.append(
            {
                "id": outcome.pk,
                "recipient": party.name,
                "purpose": str(purpose),
                "legal_basis": str(LegalBasis.CONTRACT),
                "categories": list(outcome.categories),
            }
        )
    return logged, refused
