"""What the campaign endpoints answer, for the OpenAPI schema: the refusals, with examples
of each message a caller may meet."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)

from communications.serializers import CampaignSerializer, FieldErrorsSerializer
from consent.serializers import ErrorDetailSerializer

TAGS = ["campaigns"]

FIELD_ERROR_EXAMPLES = [
    OpenApiExample(
        "A segment date not in the calendar",
        value={
            "segment": [
                "joined_after must be a real date from 1900 on, written YYYY-MM-DD, "
                "not '2024-02-30'."
            ]
        },
    ),
    OpenApiExample(
        "A time without a time zone",
        value={
            "send_at": [
                "Give a time zone: an offset such as 2026-05-01T09:00:00+01:00, or Z for UTC."
            ]
        },
    ),
]
REFUSED = OpenApiResponse(
    PolymorphicProxySerializer(
        component_name="CampaignRefusal",
        serializers=[FieldErrorsSerializer, ErrorDetailSerializer],
        resource_type_field_name=None,
    ),
    description=(
        "Nothing was written. A malformed field (unknown kind, a bad segment, a send_at that is "
        "not a date-time with a time zone) is {field: [messages]}; a refusal of the service "
        "(purpose not the kind's, a time in the past, a step the campaign's status doesn't "
        'allow) is {"detail": message}.'
    ),
    examples=[
        *FIELD_ERROR_EXAMPLES,
        OpenApiExample(
            "Purpose does not match the kind",
            value={
                "detail": "A newsletter campaign goes to the 'newsletter' purpose, not 'surveys'."
            },
        ),
        OpenApiExample("Status conflict", value={"detail": "Can't pause a draft campaign."}),
        OpenApiExample(
            "Time in the past",
            value={"detail": "send_at must be in the future; use send now instead."},
        ),
    ],
)
STEP_REFUSED = OpenApiResponse(
    ErrorDetailSerializer,
    description="The campaign's status doesn't allow this step. Nothing was changed.",
    examples=[OpenApiExample("Status conflict", value={"detail": "Can't pause a draft campaign."})],
)
FORBIDDEN = OpenApiResponse(
    ErrorDetailSerializer,
    description="Not logged in, not staff, or without the permission the action needs.",
)
NO_SUCH_CAMPAIGN = OpenApiExample("No such campaign", value={"detail": "No such campaign."})
INVALID_CURSOR = OpenApiExample("Invalid cursor", value={"detail": "Invalid cursor"})
NOT_FOUND = OpenApiResponse(
    ErrorDetailSerializer,
    description="No such campaign, or one the caller may not see (the same answer).",
    examples=[NO_SUCH_CAMPAIGN],
)
LIST_NOT_FOUND = OpenApiResponse(
    ErrorDetailSerializer,
    description="The cursor is not one this list gave out (take it from next or previous).",
    examples=[INVALID_CURSOR],
)
DELIVERIES_NOT_FOUND = OpenApiResponse(
    ErrorDetailSerializer,
    description=(
        "No such campaign (or one the caller may not see), or a cursor this list did not give out."
    ),
    examples=[NO_SUCH_CAMPAIGN, INVALID_CURSOR],
)
BAD_FILTER = OpenApiResponse(
    FieldErrorsSerializer,
    description="An unknown status, or an empty status= (leave it out for every status).",
    examples=[
        OpenApiExample(
            "Empty status",
            value={
                "status": [
                    '"" is not a status of campaigns: choose one of draft, scheduled, sending, '
                    "paused, cancelled, completed, or leave status out for every status."
                ]
            },
        )
    ],
)


def campaign_step(
    *,
    operation_id: str,
    summary: str,
    description: str,
    answers: dict[int, object],
    request: type | None = None,
):
    """The schema of an endpoint on one campaign: its ``answers`` by status code, then the
    403 and 404 every such endpoint may give."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        request=request,
        responses={**answers, 403: FORBIDDEN, 404: NOT_FOUND},
        tags=TAGS,
    )


def status_change(
    *,
    operation_id: str,
    summary: str,
    description: str,
    request: type | None = None,
    refused: OpenApiResponse = STEP_REFUSED,
):
    """The schema of an endpoint that moves a campaign on: the campaign as it now is, or
    ``refused`` when its status doesn't allow the step."""
    return campaign_step(
        operation_id=operation_id,
        summary=summary,
        description=description,
        request=request,
        answers={200: CampaignSerializer, 400: refused},
    )
