"""Campaigns through the REST API, under /api/v1/campaigns/: each endpoint translates, calls
a service, renders. What each one answers, for the OpenAPI schema, is in ``campaign_schema``.

Every refusal from ``communications.services`` (``CampaignError``: a bad kind or purpose, a time
in the past, a step the campaign's status doesn't allow) is a ``400`` with ``{"detail": message}``,
and the service's transaction means nothing was written. A malformed field, a bad segment among
them, is DRF's ``400`` naming it: ``{"segment": [message]}``.
"""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from communications.models import Campaign
from communications.permissions import (
    SEND_CAMPAIGN,
    CampaignPermission,
    campaign_get,
)
from communications.selectors import campaigns_with_progress, deliveries_for
from communications.serializers import (
    CampaignDeliveryQuerySerializer,
    CampaignDeliverySerializer,
    CampaignListQuerySerializer,
    CampaignPreviewSerializer,
    CampaignScheduleSerializer,
    CampaignSerializer,
    FieldErrorsSerializer,
)
from communications.services.campaigns.lifecycle import (
    CampaignError,
    cancel_campaign,
    create_campaign,
    pause_campaign,
    preview_campaign,
    resume_campaign,
    schedule_campaign,
    send_campaign_now,
    send_campaign_test,
    update_campaign,
)
from privacy_site.auth_user import logged_in_user
from privacy_site.pagination import CheckedCursorPagination
from privacy_site.staff import is_active_staff

from .campaign_schema import (
    BAD_FILTER,
    DELIVERIES_NOT_FOUND,
    FORBIDDEN,
    LIST_NOT_FOUND,
    NOT_FOUND,
    REFUSED,
    TAGS,
    campaign_step,
    status_change,
)

CONTENT_FIELDS = ("name", "kind", "subject_line", "body", "body_format", "segment")


class NewestFirst(CheckedCursorPagination):
    ordering = "-id"
    # Each campaign carries its progress counts: a short page keeps the list quick.
    page_size = 25


class InSendingOrder(CheckedCursorPagination):
    ordering = "id"
    page_size = 100


def _refused(error: CampaignError) -> Response:
    return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)


def _require_send_permission(request: Request) -> None:
    if not is_active_staff(request.user, SEND_CAMPAIGN):
        raise PermissionDenied("Scheduling needs the communications.send_campaign permission.")


def _service_arguments(request: Request, serializer: CampaignSerializer) -> dict:
    """What ``create_campaign`` and ``update_campaign`` take from a valid request: the content
    (on a PATCH, a field not given keeps the campaign's value), the purpose, and ``send_at``,
    which needs the send permission too."""
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    if data.get("send_at") is not None:
        _require_send_permission(request)
    content = {
        field: data[field] if field in data else getattr(serializer.instance, field)
        for field in CONTENT_FIELDS
    }
    return {"purpose": data.get("purpose") or None, "send_at": data.get("send_at"), **content}


@extend_schema_view(
    list=extend_schema(
        operation_id="campaigns_list",
        summary="Campaigns, newest first",
        description=(
            "Needs staff status and `communications.view_campaign`. `status` narrows the list to "
            "one status; an empty `status=` is refused, not read as every status."
        ),
        parameters=[CampaignListQuerySerializer],
        responses={
            200: CampaignSerializer(many=True),
            400: BAD_FILTER,
            403: FORBIDDEN,
            404: LIST_NOT_FOUND,
        },
        tags=TAGS,
    ),
    retrieve=extend_schema(
        operation_id="campaigns_retrieve",
        summary="One campaign with its progress",
        description="Needs staff status and `communications.view_campaign`.",
        responses={200: CampaignSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        tags=TAGS,
    ),
    create=extend_schema(
        operation_id="campaigns_create",
        summary="Create a campaign (and schedule it, with send_at)",
        description=(
            "Needs `communications.add_campaign`, and `communications.send_campaign` when "
            "`send_at` is given. The purpose follows from the kind. The body is sanitised "
            "(`body_html`, `body_text`). With `send_at`, the campaign is created and scheduled "
            "in one transaction: if the time is refused, no campaign is written."
        ),
        request=CampaignSerializer,
        responses={201: CampaignSerializer, 400: REFUSED, 403: FORBIDDEN},
        tags=TAGS,
    ),
    partial_update=extend_schema(
        operation_id="campaigns_partial_update",
        summary="Edit a draft, scheduled or paused campaign",
        description=(
            "Needs `communications.change_campaign` (and `send_campaign` with `send_at`). "
            "Fields not given keep their value; changing the kind moves the purpose with it."
        ),
        request=CampaignSerializer,
        responses={200: CampaignSerializer, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
        tags=TAGS,
    ),
)
class CampaignViewSet(viewsets.GenericViewSet):
    """Marketing campaigns: write, preview, test, schedule or send, pause, resume, cancel."""

    permission_classes = [CampaignPermission]
    parser_classes = [JSONParser]
    serializer_class = CampaignSerializer
    pagination_class = NewestFirst
    queryset = Campaign.objects.select_related("purpose")

    def get_object(self) -> Campaign:
        return campaign_get(id=self.kwargs["pk"], actor=logged_in_user(self.request))

    # --- Reading and writing -----------------------------------------------------------------

    def list(self, request: Request) -> Response:
        query = CampaignListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        campaigns = campaigns_with_progress(self.get_queryset())
        if status_filter := query.validated_data.get("status"):
            campaigns = campaigns.filter(status=status_filter)
        page = self.paginate_queryset(campaigns)
        return self.get_paginated_response(CampaignSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(CampaignSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        arguments = _service_arguments(request, CampaignSerializer(data=request.data))
        try:
            campaign = create_campaign(actor=logged_in_user(request), **arguments)
        except CampaignError as error:
            return _refused(error)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        campaign = self.get_object()
        serializer = CampaignSerializer(campaign, data=request.data, partial=True)
        return self._change(
            update_campaign, campaign=campaign, **_service_arguments(request, serializer)
        )

    # --- Checking before sending -------------------------------------------------------------

    @campaign_step(
        operation_id="campaigns_preview",
        summary="Render the campaign for a sample recipient",
        description=(
            "The subject, plain text, HTML and headers a recipient would get, rendered for a "
            "made-up person (Sam Sample) with sample unsubscribe and preference links. "
            "Writes nothing. Needs `communications.view_campaign`."
        ),
        answers={200: CampaignPreviewSerializer},
    )
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str) -> Response:
        rendered = preview_campaign(campaign=self.get_object())
        return Response(CampaignPreviewSerializer(rendered).data)

    @campaign_step(
        operation_id="campaigns_test",
        summary="Send a test to myself",
        description=(
            "Queues the campaign, subject prefixed `[Test]`, to the requesting member of staff "
            "through the outbox (kind `campaign_test`). `status` is `queued`, or why it won't "
            "go (e.g. `suppressed`). Needs `communications.send_campaign`."
        ),
        answers={202: CampaignDeliverySerializer},
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        delivery = send_campaign_test(campaign=self.get_object(), actor=logged_in_user(request))
        return Response(CampaignDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="campaigns_deliveries",
        summary="The campaign's deliveries, recipients masked",
        description=(
            "One row per recipient, in the order they were written; addresses are masked "
            "everywhere, errors included. Needs `communications.view_campaign` and "
            "`communications.view_delivery`."
        ),
        parameters=[CampaignDeliveryQuerySerializer],
        responses={
            200: CampaignDeliverySerializer(many=True),
            400: OpenApiResponse(
                FieldErrorsSerializer,
                description="An unknown status, or an empty status= (leave it out for all).",
            ),
            403: FORBIDDEN,
            404: DELIVERIES_NOT_FOUND,
        },
        tags=TAGS,
    )
    @action(detail=True, methods=["get"], pagination_class=InSendingOrder)
    def deliveries(self, request: Request, pk: str) -> Response:
        campaign = self.get_object()
        query = CampaignDeliveryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = deliveries_for(campaign=campaign, status=query.validated_data.get("status"))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(CampaignDeliverySerializer(page, many=True).data)

    # --- Status changes ----------------------------------------------------------------------

    def _change(
        self, service: Callable[..., Campaign], *, campaign: Campaign | None = None, **arguments
    ) -> Response:
        try:
            campaign = service(
                campaign=campaign or self.get_object(),
                actor=logged_in_user(self.request),
                **arguments,
            )
        except CampaignError as error:
            return _refused(error)
        return Response(CampaignSerializer(campaign).data)

    @status_change(
        operation_id="campaigns_schedule",
        summary="Schedule (or reschedule) a draft or scheduled campaign",
        description="Needs `communications.send_campaign`. `send_at` must be in the future.",
        request=CampaignScheduleSerializer,
        refused=REFUSED,
    )
    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, pk: str) -> Response:
        serializer = CampaignScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._change(schedule_campaign, send_at=serializer.validated_data["send_at"])

    @status_change(
        operation_id="campaigns_send",
        summary="Send a draft or scheduled campaign now",
        description=(
            "Moves the campaign to `sending`; workers then write and send its deliveries. "
            "Needs `communications.send_campaign`."
        ),
    )
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str) -> Response:
        return self._change(send_campaign_now)

    @status_change(
        operation_id="campaigns_pause",
        summary="Pause a sending campaign",
        description=(
            "Batches already handed to the provider finish; no new batch starts. "
            "Needs `communications.send_campaign`."
        ),
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        return self._change(pause_campaign)

    @status_change(
        operation_id="campaigns_resume",
        summary="Resume a paused campaign",
        description="Needs `communications.send_campaign`.",
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        return self._change(resume_campaign)

    @status_change(
        operation_id="campaigns_cancel",
        summary="Cancel a campaign for good",
        description=(
            "Deliveries not yet claimed are cancelled; a batch already sending finishes. "
            "A completed or cancelled campaign can't be cancelled. "
            "Needs `communications.send_campaign`."
        ),
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._change(cancel_campaign)
