"""The logged-in person's own preferences over the API, under /api/v1/me/preferences/.

It lives here rather than in the consent app because a change is a decision and its receipt,
written together by ``communications.services.preferences.save_preferences``: the same
service the preference centre calls, so every way of changing a choice emails the same
receipt (and consent, the lower app, never imports this one).
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from communications.services.preferences import save_preferences
from consent.provenance import Provenance
from consent.selectors import consent_status
from consent.serializers import (
    ErrorDetailSerializer,
    MyPreferencesSerializer,
    MyPreferencesUpdateSerializer,
    PreferenceChoicesSerializer,
)
from consent.services import ConsentError, ConsentSource
from privacy_site.auth_user import logged_in_user

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
        OpenApiExample(
            "Not a purpose code",
            value={"choices": [PreferenceChoicesSerializer.NOT_A_CODE]},
        ),
    ],
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
        status_by_code = consent_status(subject=logged_in_user(request))
        return Response(MyPreferencesSerializer({"purposes": status_by_code.values()}).data)

    @extend_schema(
        operation_id="me_preferences_update",
        summary="Change my preferences",
        description=(
            "Records the given decisions in one transaction, from source `api`, and emails the "
            "person a consent receipt listing what changed (as the preference centre does). "
            "Purposes not named keep their state; a choice equal to the state in force records "
            "nothing and sends nothing. An unknown or mandatory purpose, or a key that is not a "
            "purpose code, refuses the whole request and records nothing."
        ),
        request=PreferenceChoicesSerializer,
        responses={200: MyPreferencesUpdateSerializer, 400: CHOICES_ERROR, 403: NOT_LOGGED_IN},
        tags=["consent"],
    )
    def put(self, request: Request) -> Response:
        serializer = PreferenceChoicesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            changed = save_preferences(
                subject=logged_in_user(request),
                choices=serializer.validated_data["choices"],
                source=ConsentSource.API,
                provenance=Provenance.from_request(request),
            )
        except ConsentError as exc:
            raise ValidationError({"choices": [str(exc)]}) from exc
        result = {
            "purposes": consent_status(subject=logged_in_user(request)).values(),
            "changed": changed,
        }
        return Response(MyPreferencesUpdateSerializer(result).data)


urlpatterns = [
    path("me/preferences/", MyPreferencesView.as_view(), name="api-my-preferences"),
]
