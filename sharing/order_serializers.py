"""Shapes of the orders API: they check and translate the checkout's request, and describe the
answer; ``sharing.services.orders.take_order`` decides everything else."""

from __future__ import annotations

import re
import unicodedata

from rest_framework import serializers

from consent.names import INVALID_NAME, NAME_MAX_LENGTH, is_valid_person_name
from consent.serializers import StrictBooleanField, StrictCharField, StrictIntegerField
from privacy_site.postcodes import INVALID_POSTCODE, uk_postcode
from sharing.order_models import CustomerStatus, Order, OrderLine
from sharing.services.orders import (
    OrderCustomer,
    OrderItem,
    OrderRequest,
    PostalAddress,
)

_REFERENCE_FIELD_MAX = Order._meta.get_field("reference").max_length
assert _REFERENCE_FIELD_MAX is not None, "an order reference has a maximum length"
REFERENCE_MAX: int = _REFERENCE_FIELD_MAX
REFERENCE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._/-]{{0,{REFERENCE_MAX - 1}}}")
MAX_LINES = 200
MAX_QUANTITY = 9999
# Letters (any script), digits, spaces and the punctuation of an address; no line breaks,
# markup or control characters.
ADDRESS_TEXT = re.compile(r"[\w .,'\u2019&/()#-]+")
INVALID_ADDRESS_TEXT = "Use letters, digits, spaces and , . ' - / & ( ) # only, on one line."


def _line_of_text(value: str) -> None:
    if not ADDRESS_TEXT.fullmatch(value):
        raise serializers.ValidationError(INVALID_ADDRESS_TEXT)


def _one_line(value: str) -> None:
    """Any printable text on one line: no control or format characters, no line breaks."""
    if any(unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" for char in value):
        raise serializers.ValidationError("Use one line of printable text.")


def _person_name(value: str) -> None:
    if not is_valid_person_name(value):
        raise serializers.ValidationError(INVALID_NAME)


class PostalAddressSerializer(serializers.Serializer):
    line_1 = StrictCharField(
        max_length=Order._meta.get_field("address_line_1").max_length,
        validators=[_line_of_text],
    )
    line_2 = StrictCharField(
        max_length=Order._meta.get_field("address_line_2").max_length,
        required=False,
        allow_blank=True,
        default="",
        validators=[_line_of_text],
    )
    town = StrictCharField(
        max_length=Order._meta.get_field("town").max_length, validators=[_line_of_text]
    )
    postcode = StrictCharField(
        max_length=12, help_text="A UK postcode, in any case and spacing: stored as SW1A 1AA."
    )

    def validate_postcode(self, value: str) -> str:
        postcode = uk_postcode(value)
        if postcode is None:
            raise serializers.ValidationError(INVALID_POSTCODE)
        return postcode


class OrderCustomerSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="Matched whatever its case.")
    first_name = StrictCharField(max_length=NAME_MAX_LENGTH, validators=[_person_name])
    last_name = StrictCharField(max_length=NAME_MAX_LENGTH, validators=[_person_name])
    address = PostalAddressSerializer(help_text="Where the parcel goes.")


class OrderLineSerializer(serializers.Serializer):
    product = StrictCharField(
        max_length=OrderLine._meta.get_field("product").max_length, validators=[_one_line]
    )
    supplier = StrictCharField(
        max_length=OrderLine._meta.get_field("supplier").max_length, validators=[_one_line]
    )
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderRequestSerializer(serializers.Serializer):
    """The checkout's order: what ``take_order`` takes."""

    reference = StrictCharField(
        max_length=REFERENCE_MAX,
        help_text="The shop's order reference: letters, digits and . _ / -, starting with a "
        "letter or digit. Used once per system: a repeat of the same request gets the first "
        "answer; another order with it is refused (409).",
    )
    customer = OrderCustomerSerializer()
    # many=True hands allow_empty and max_length to the ListSerializer it makes.
    lines = OrderLineSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]
    marketing_opt_out = StrictBooleanField(
        help_text="The order form's box, ticked (true) or not (false). Not ticked: a customer "
        "never asked before gets special offers on the soft opt-in basis. Ticked: no special "
        "offers."
    )
    referring_site = serializers.URLField(
        max_length=Order._meta.get_field("referring_site").max_length,
        required=False,
        allow_blank=True,
        default="",
        help_text="The supplier's site the customer came from, if any.",
    )
    carrier = StrictCharField(
        max_length=200,
        validators=[_one_line],
        required=False,
        allow_blank=True,
        default="",
        help_text="The parcel carrier's name in the register of third parties; empty: the "
        "default carrier (Parcelforce).",
    )

    def validate_reference(self, value: str) -> str:
        if not REFERENCE.fullmatch(value):
            raise serializers.ValidationError(
                "Use letters, digits and . _ / - only, starting with a letter or digit."
            )
        return value

    def validate_referring_site(self, value: str) -> str:
        if value and not value.lower().startswith(("https://", "http://")):
            raise serializers.ValidationError("Enter an http:// or https:// address.")
        return value

    def order_request(self) -> OrderRequest:
        data = self.validated_data
        customer = data["customer"]
        return OrderRequest(
            reference=data["reference"],
            customer=OrderCustomer(
                email=customer["email"],
                first_name=customer["first_name"],
                last_name=customer["last_name"],
                address=PostalAddress(**customer["address"]),
            ),
            lines=[OrderItem(**line) for line in data["lines"]],
            marketing_opt_out=data["marketing_opt_out"],
            referring_site=data["referring_site"],
            carrier=data["carrier"].strip(),
        )


# --- The answer (documentation and tests of its shape) ---------------------------------------


class OrderCustomerAnswerSerializer(serializers.Serializer):
    id = StrictIntegerField(
        allow_null=True, help_text="The customer's account; null when not linked."
    )
    status = serializers.ChoiceField(
        choices=CustomerStatus.choices,
        help_text="new or existing: linked. closed (deactivated or being erased) or erased "
        "(the address of an erased account): the order is kept without the customer, with no "
        "marketing choice and no disclosure.",
    )


class SpecialOffersAnswerSerializer(serializers.Serializer):
    granted = serializers.BooleanField(help_text="Special offers in force after the order.")
    legal_basis = StrictCharField(
        allow_null=True, help_text="consent or soft_opt_in; null if never asked."
    )
    changed = serializers.BooleanField(help_text="This order recorded a decision.")


class OrderDisclosureAnswerSerializer(serializers.Serializer):
    id = StrictIntegerField()
    recipient = StrictCharField()
    purpose = StrictCharField(help_text="card_authorisation or delivery.")
    legal_basis = StrictCharField()
    categories = serializers.ListField(child=StrictCharField())


class OrderRefusalAnswerSerializer(serializers.Serializer):
    recipient = StrictCharField()
    rule = StrictCharField(help_text="The register's rule that refused it.")
    detail = StrictCharField()


class OrderAnswerSerializer(serializers.Serializer):
    reference = StrictCharField()
    received_at = serializers.DateTimeField()
    customer = OrderCustomerAnswerSerializer()
    special_offers = SpecialOffersAnswerSerializer(
        allow_null=True, help_text="null when the customer is not linked."
    )
    disclosures = OrderDisclosureAnswerSerializer(
        many=True,
        help_text="Logged: the bank and the carrier may be given the name and address.",
    )
    refused = OrderRefusalAnswerSerializer(
        many=True,
        help_text="Disclosures the register refused: give that party nothing and tell staff.",
    )
