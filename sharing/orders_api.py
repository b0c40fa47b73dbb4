"""``POST /api/v1/orders/``: the shop's checkout sends each order, with a key holding the
``orders:write`` scope. Translates the request, calls ``take_order``, renders its answer."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api_keys.authentication import APIKeyAuthentication
from api_keys.models import Scope, SystemAPIKey
from api_keys.permissions import APIKeyScopePermission, api_key_of
from api_keys.schema import SCHEME
from communications.serializers import FieldErrorsSerializer
from consent.serializers import ErrorDetailSerializer
from sharing.order_serializers import OrderAnswerSerializer, OrderRequestSerializer
from sharing.services.orders import OPT_OUT_WORDING, OrderConflict, OrderError, take_order

REPEATED_HEADER = "Idempotent-Replayed"

EXAMPLE_REQUEST = {
    "reference": "JS-2026-001001",
    "customer": {
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Jones",
        "address": {
            "line_1": "1 High Street",
            "line_2": "",
            "town": "Leeds",
            "postcode": "LS1 4AP",
        },
    },
    "lines": [{"product": "Canon EOS R8 body", "supplier": "Canon UK", "quantity": 1}],
    "marketing_opt_out": False,
    "referring_site": "https://www.canon.co.uk/cameras/",
    "carrier": "Parcelforce",
}
EXAMPLE_ANSWER = {
    "reference": "JS-2026-001001",
    "received_at": "2026-03-02T10:15:04.118372Z",
    "customer": {"id": 42, "status": "new"},
    "special_offers": {"granted": True, "legal_basis": "soft_opt_in", "changed": True},
    "disclosures": [
        {
            "id": 901,
            "recipient": "Our bank (card authorisation)",
            "purpose": "card_authorisation",
            "legal_basis": "contract",
            "categories": ["name", "postal_address"],
        },
        {
            "id": 902,
            "recipient": "Parcelforce",
            "purpose": "delivery",
            "legal_basis": "contract",
            "categories": ["name", "postal_address"],
        },
    ],
    "refused": [],
}


def _system(request: Request) -> SystemAPIKey:
    """The system key the permission class already required of this request."""
    system = api_key_of(request)
    if system is None:
        raise PermissionDenied("An API key is required.")
    return system


class OrderConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "That order reference was used for another order."
    default_code = "conflict"


class CanSendOrders(APIKeyScopePermission):
    """A system's key holding ``orders:write``; nobody on a session, staff included (the view
    does not read sessions)."""

    api_key_scope = Scope.ORDERS_WRITE
    message = "Sending orders needs an API key with the orders:write scope."


class OrderView(APIView):
    # A key only: a session is not even read, so a request without a usable key is told so
    # with 401 and ``WWW-Authenticate: Api-Key`` (HTTP's answer for missing or invalid
    # credentials), and one whose key lacks the scope gets 403.
    authentication_classes = [APIKeyAuthentication]
    permission_classes = [CanSendOrders]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_create",
        summary="Record an order from the checkout (the shop's systems)",
        description=(
            "Needs an API key with the `orders:write` scope. In one transaction: the order, "
            "its customer (found by email; a new address gets an account with no password), "
            "the order form's marketing box on the consent ledger (source `order_form`), and "
            "the disclosures of the name and postal address to the bank (card authorisation) "
            "and the carrier (delivery), by this key, for this order reference.\n\n"
            "The checkout shows the box with exactly these words: "
            f"“{OPT_OUT_WORDING}”\n\n"
            "Idempotent on the reference: the same request again gets the first answer (same "
            f"status and body, header `{REPEATED_HEADER}: true`) and writes nothing; another "
            "order with the same reference is `409`. An address whose account is closed or "
            "erased: the order is kept without the customer, with no marketing choice and no "
            "disclosure (`customer.status` says which). Give a party named in `refused` "
            "nothing: the register refused the disclosure."
        ),
        request=OrderRequestSerializer,
        auth=[{SCHEME: []}],  # type: ignore[list-item]  # a security requirement, as OpenAPI has it
        examples=[OpenApiExample("An order", value=EXAMPLE_REQUEST, request_only=True)],
        responses={
            201: OpenApiResponse(
                OrderAnswerSerializer,
                description="Recorded (or the first answer to the same request, again).",
                examples=[OpenApiExample("Recorded", value=EXAMPLE_ANSWER)],
            ),
            400: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="OrderRefusal",
                    serializers=[FieldErrorsSerializer, ErrorDetailSerializer],
                    resource_type_field_name=None,
                ),
                description="A malformed field, or a carrier the register does not know: "
                '{field: [messages]}; a body that is not JSON at all: {"detail": message}. '
                "Nothing written.",
                examples=[
                    OpenApiExample(
                        "A bad postcode",
                        value={"customer": {"address": {"postcode": ["Enter a UK postcode."]}}},
                    )
                ],
            ),
            401: OpenApiResponse(
                ErrorDetailSerializer,
                description="No key, or a key that is unknown, revoked or expired "
                "(`WWW-Authenticate: Api-Key`); a session is not accepted.",
            ),
            403: OpenApiResponse(
                ErrorDetailSerializer, description="A key without the orders:write scope."
            ),
            409: OpenApiResponse(
                ErrorDetailSerializer,
                description="The reference was used already for an order with other details; "
                "nothing written.",
            ),
            415: OpenApiResponse(ErrorDetailSerializer, description="The body is not JSON."),
            429: OpenApiResponse(
                ErrorDetailSerializer, description="Too many failed API key attempts."
            ),
        },
        tags=["orders"],
    )
    def post(self, request: Request) -> Response:
        incoming = OrderRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            taken = take_order(system=_system(request), request=incoming.order_request())
        except OrderError as error:
            raise ValidationError(error.errors) from error
        except OrderConflict as conflict:
            raise OrderConflictError(str(conflict)) from conflict
        headers = {REPEATED_HEADER: "true"} if taken.repeated else {}
        return Response(taken.answer, status=status.HTTP_201_CREATED, headers=headers)


urlpatterns = [
    path("orders/", OrderView.as_view(), name="api-orders"),
]
