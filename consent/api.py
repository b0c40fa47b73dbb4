"""REST endpoints of the consent app, under /api/v1/: each translates, calls a service, renders."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent.permissions import CanViewConsentRecords, consent_subject_get
from consent.provenance import Provenance
from consent.selectors import consent_history_for
from consent.serializers import (
    ConsentRecordQuerySerializer,
    ConsentRecordSerializer,
    ErrorDetailSerializer,
    MyPreferencesSerializer,
    MyPreferencesUpdateSerializer,
    PreferenceChoicesSerializer,
)
from consent.services import ConsentError, Source, consent_status, record_decisions

CHOICES_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Invalid input: each field named maps to a list of messages.",
    examples=[
        OpenApiExample(
            "Mandatory purpose",
            value={
                "choices": [
                    "service_announcements is mandatory: there is no consent to give or withdraw."
                ]
            },
        ),
        OpenApiExample(
            "Not a boolean",
            value={"choices": {"newsletter": ["Must be true or false (a JSON boolean)."]}},
        ),
    ],
)
EMAIL_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The email parameter is missing or is not an email address.",
    examples=[OpenApiExample("Missing email", value={"email": ["This field is required."]})],
)
NOT_LOGGED_IN = OpenApiResponse(ErrorDetailSerializer, description="Not logged in.")


class MyPreferencesView(APIView):
    """The logged-in person's choices, purpose by purpose."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="me_preferences_retrieve",
        summary="My preferences",
        responses={200: MyPreferencesSerializer, 403: NOT_LOGGED_IN},
        tags=["consent"],
    )
    def get(self, request: Request) -> Response:
        status_by_code = consent_status(subject=request.user)
        return Response(MyPreferencesSerializer({"purposes": status_by_code.values()}).data)

    @extend_schema(
        operation_id="me_preferences_update",
        summary="Change my preferences",
        description=(
            "Records the given decisions in one transaction, from source `api`. Purposes not "
            "named keep their state; a choice equal to the state in force records nothing. "
            "An unknown or mandatory purpose refuses the whole request and records nothing."
        ),
        request=PreferenceChoicesSerializer,
        responses={200: MyPreferencesUpdateSerializer, 400: CHOICES_ERROR, 403: NOT_LOGGED_IN},
        tags=["consent"],
    )
    def put(self, request: Request) -> Response:
        serializer = PreferenceChoicesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            changed = record_decisions(
                subject=request.user,
                choices=serializer.validated_data["choices"],
                source=Source.API,
                provenance=Provenance.from_request(request),
            )
        except ConsentError as exc:
            raise ValidationError({"choices": [str(exc)]}) from exc
        result = {"purposes": consent_status(subject=request.user).values(), "changed": changed}
        return Response(MyPreferencesUpdateSerializer(result).data)


class ConsentRecordView(APIView):
    """Staff: one person's consent record, the state in force and every decision behind it."""

    permission_classes = [CanViewConsentRecords]

    @extend_schema(
        operation_id="consents_retrieve",
        summary="A person's consent record (staff)",
        description=(
            "Needs staff status and the `consent.view_consentevent` permission (session), "
            "or an API key with the `consents:read` scope (the shop's systems). "
            "The email address is matched whatever its case."
        ),
        parameters=[ConsentRecordQuerySerializer],
        responses={
            200: ConsentRecordSerializer,
            400: EMAIL_ERROR,
            403: OpenApiResponse(
                ErrorDetailSerializer,
                description="Not staff with permission; an invalid key, or one without the scope.",
            ),
            429: OpenApiResponse(
                ErrorDetailSerializer, description="Too many failed API key attempts."
            ),
            404: OpenApiResponse(ErrorDetailSerializer, description="No one with that email."),
        },
        tags=["consent"],
    )
    def get(self, request: Request) -> Response:
        query = ConsentRecordQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        subject = consent_subject_get(
            email=query.validated_data["email"], actor=request.user, api_key=request.auth
        )
        record = {
            "subject": subject,
            "current": consent_status(subject=subject).values(),
            "history": consent_history_for(subject=subject).select_related("actor"),
        }
        return Response(ConsentRecordSerializer(record).data, status=status.HTTP_200_OK)


urlpatterns = [
    path("me/preferences/", MyPreferencesView.as_view(), name="api-my-preferences"),
    path("consents/", ConsentRecordView.as_view(), name="api-consents"),
]
