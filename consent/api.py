"""REST endpoints of the consent app, under /api/v1/: each translates, calls a service, renders.

A person's own preferences (``/api/v1/me/preferences/``) are served by the communications app
(``communications.preferences_api``): a change there also emails a consent receipt.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api_keys.permissions import api_key_of
from consent.permissions import CanViewConsentRecords, consent_subject_get
from consent.selectors import consent_history_for, consent_status
from consent.serializers import (
    ConsentRecordQuerySerializer,
    ConsentRecordSerializer,
    ErrorDetailSerializer,
)
from privacy_site.need_to_know_api import need_to_know_context
from staff_access.recording import note_access

EMAIL_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The email parameter is missing or is not an email address.",
    examples=[OpenApiExample("Missing email", value={"email": ["This field is required."]})],
)


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
        api_key = api_key_of(request)
        subject = consent_subject_get(
            email=query.validated_data["email"], actor=request.user, api_key=api_key
        )
        record = {
            "subject": subject,
            "current": consent_status(subject=subject).values(),
            "history": consent_history_for(subject=subject).select_related("actor"),
        }
        context = need_to_know_context(request, api_key=api_key)
        data = ConsentRecordSerializer(record, context=context).data
        # Staff reading it with their session: recorded like an admin page (system keys are not
        # staff, and their use is in each key's own record).
        note_access(
            request,
            action="view",
            page="api:consents",
            subject_ids=[subject.pk],
            fields=list(data),
        )
        return Response(data, status=status.HTTP_200_OK)


urlpatterns = [
    path("consents/", ConsentRecordView.as_view(), name="api-consents"),
]
