"""Shapes of the campaign API: they translate input and render output, and decide nothing.

What a campaign may be (kind and purpose, segment filters, a time in the future, a status
that allows the step) is decided by ``communications.services``; these serializers check only
the shape of the request, so the service's message reaches the caller unchanged. A bad segment
is the one refusal they name a field for: the service's validator is asked, and its message comes
back as ``{"segment": [message]}``, as the admin form shows it beside the field.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from communications.addresses import mask_addresses_in
from communications.kinds import STAFF_CAMPAIGN_KIND_CHOICES, STAFF_CAMPAIGN_KINDS
from communications.models import Campaign, Delivery
from communications.selectors import campaign_progress, describe_recipient
from communications.services.campaigns.lifecycle import (
    SEGMENT_KEYS,
    CampaignError,
    validate_segment,
)
from consent.serializers import StrictCharField


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time *with* a time zone: a naive time is refused rather than read
    in the server's zone, since 09:00 in London and 09:00 in New York are different sends."""

    default_error_messages = {
        "naive": ("Give a time zone: an offset such as 2026-05-01T09:00:00+01:00, or Z for UTC."),
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None  # well-formed but impossible: the parent says so
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class PurposeCodeField(StrictCharField):
    """A purpose by its code: written as a string, read from the campaign's ``Purpose``."""

    def to_representation(self, value) -> str:
        return value.code


class CampaignProgressSerializer(serializers.Serializer):
    """Delivery rows of the campaign by status (``communications.selectors.campaign_progress``)."""

    total = serializers.IntegerField(help_text="Delivery rows written so far.")
    queued = serializers.IntegerField()
    sending = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    bounced = serializers.IntegerField()
    complained = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    skipped_no_consent = serializers.IntegerField(
        help_text="Consent withdrawn between selection and sending."
    )
    skipped_inactive = serializers.IntegerField(
        help_text="Account deactivated or gone between selection and sending."
    )
    skipped_unverified = serializers.IntegerField(
        help_text="Signed up but never followed the verification link."
    )
    skipped_audience = serializers.IntegerField(
        help_text=(
            "Policy and business-transition notices: no longer in the notice's audience at "
            "send time (for example opted out of all communication after it was queued)."
        )
    )
    cancelled = serializers.IntegerField()
    unsubscribed = serializers.IntegerField(
        help_text="Recipients who unsubscribed through this campaign's link."
    )
    uncertain = serializers.IntegerField(
        help_text=(
            "Rows that may or may not have arrived (no answer once the message was handed "
            "over, or the worker stopped mid-send); never resent."
        )
    )


class CampaignSerializer(serializers.Serializer):
    """A campaign as written (create, and PATCH with any subset) and as read back."""

    id = serializers.IntegerField(read_only=True)
    name = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="For staff only; the subject when left empty.",
    )
    kind = serializers.ChoiceField(
        choices=STAFF_CAMPAIGN_KIND_CHOICES,
        error_messages={
            "invalid_choice": (
                f'"{{input}}" is not a kind a campaign can send; choose one of '
                f"{', '.join(STAFF_CAMPAIGN_KINDS)} (policy notices are sent from the "
                "policy's publication or a business transition)."
            )
        },
    )
    purpose = PurposeCodeField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=(
            "The consent purpose recipients agreed to. Set from the kind; if given, it must be "
            "the kind's purpose."
        ),
    )
    subject = StrictCharField(source="subject_line", max_length=200)
    body = StrictCharField(
        trim_whitespace=False,
        help_text="Markdown or HTML as body_format says; {{ first_name }} is filled in.",
    )
    body_format = serializers.ChoiceField(
        choices=Campaign.BodyFormat.choices, default=Campaign.BodyFormat.MARKDOWN
    )
    body_html = serializers.CharField(
        read_only=True, help_text="The body sanitised: no scripts, styles or event handlers."
    )
    body_text = serializers.CharField(read_only=True)
    segment = serializers.DictField(
        required=False,
        default=dict,
        help_text=(
            "Optional filters narrowing the audience: "
            + ", ".join(sorted(SEGMENT_KEYS))
            + " (dates YYYY-MM-DD; legal_basis for marketing kinds only)."
        ),
    )
    status = serializers.ChoiceField(choices=Campaign.Status.choices, read_only=True)
    send_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text=(
            "When sending starts. Given on create or PATCH, the campaign is scheduled in the "
            "same transaction (needs communications.send_campaign); null leaves it as it is."
        ),
    )
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField()

    @extend_schema_field(CampaignProgressSerializer)
    def get_progress(self, campaign: Campaign) -> dict[str, int]:
        return campaign_progress(campaign=campaign)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Name the field of a bad segment filter (an unknown key, a date not in the calendar):
        the service's own validator decides, as the admin form's does, and its message is
        returned under ``segment``. The service checks the segment again when it saves."""
        if "segment" in attrs:
            kind = str(attrs.get("kind") or getattr(self.instance, "kind", ""))
            try:
                validate_segment(attrs["segment"], kind=kind)
            except CampaignError as error:
                raise serializers.ValidationError({"segment": [str(error)]}) from error
        return attrs


class CampaignScheduleSerializer(serializers.Serializer):
    send_at = AwareDateTimeField(
        help_text="ISO 8601 with a time zone, in the future, e.g. 2026-05-01T09:00:00+01:00."
    )


class CampaignPreviewSerializer(serializers.Serializer):
    """The campaign rendered for a made-up recipient (Sam Sample): nobody's data is shown."""

    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())


class CampaignDeliverySerializer(serializers.Serializer):
    """One message of a campaign. The recipient is masked: campaign staff never see addresses."""

    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="The message kind (campaign_test for a test send).")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    recipient = serializers.SerializerMethodField(help_text="Masked, e.g. a***@example.com.")
    attempts = serializers.IntegerField()
    last_error = serializers.SerializerMethodField(help_text="Any address in it is masked.")
    provider_message_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    unsubscribed_at = serializers.DateTimeField(allow_null=True)

    def get_recipient(self, delivery: Delivery) -> str:
        return describe_recipient(delivery)

    def get_last_error(self, delivery: Delivery) -> str:
        return mask_addresses_in(delivery.last_error)


class QueryChoiceField(serializers.ChoiceField):
    """A choice from the query string where an empty value is a value: DRF reads ``status=``
    on an optional field as if it were left out, which for a filter means everything."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, serializers.empty)


def status_filter(choices: list[tuple[str, str]], *, of: str) -> serializers.ChoiceField:
    """An optional ``status`` query parameter. Given empty (``status=``) it is refused like any
    other unknown status, never read as "every status": a client that lost its value must not
    get the whole list back as if it had asked for it."""
    values = ", ".join(value for value, _ in choices)
    return QueryChoiceField(
        choices=choices,
        required=False,
        help_text=f"Only {of} in this status; leave it out for every status.",
        error_messages={
            "invalid_choice": (
                f'"{{input}}" is not a status of {of}: choose one of {values}, or leave status '
                "out for every status."
            )
        },
    )


class CampaignListQuerySerializer(serializers.Serializer):
    status = status_filter(Campaign.Status.choices, of="campaigns")


class CampaignDeliveryQuerySerializer(serializers.Serializer):
    status = status_filter(Delivery.Status.choices, of="deliveries")


# --- Error shapes, for the schema ---------------------------------------------------------------


class FieldErrorsSerializer(serializers.Serializer):
    """DRF's ``400`` for malformed input: each field named maps to its messages (an object of
    the same shape for a field holding an object). Documentation only: see the extension below."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    """The schema of ``FieldErrorsSerializer``: an object of any field names, which a serializer
    with declared fields can't express."""

    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema, direction) -> dict:
        # Nested as deep as the input: an object's fields, a list's items (a list of objects
        # answers each item, ``{}`` for one without errors), a list's items by index.
        itself = {"$ref": "#/components/schemas/FieldErrors"}
        return {
            "type": "object",
            "description": (
                "Each field named maps to a list of messages; a field holding an object, to an "
                "object of the same shape; a field holding a list of objects, to a list (or an "
                "object by index) of such objects."
            ),
            "additionalProperties": {
                "anyOf": [
                    {"type": "array", "items": {"anyOf": [{"type": "string"}, itself]}},
                    itself,
                ]
            },
        }
