"""Shapes of the consent API: they translate input and render output, and decide nothing."""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import serializers

from consent.models import ConsentEvent, ConsentSource, Purpose
from privacy_site.need_to_know_api import NeedToKnowSerializer

PURPOSE_CODE_MAX_LENGTH = Purpose._meta.get_field("code").max_length
PURPOSE_CODE = re.compile(rf"[-a-zA-Z0-9_]{{1,{PURPOSE_CODE_MAX_LENGTH}}}")


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` and nothing else: ``"yes"``, ``1`` or ``"off"`` are refused,
    because a consent decision read from a guess is not a decision."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data: object) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid")


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: a number or a boolean is refused rather than turned into
    text, as the schema says the field is a string."""

    default_error_messages = {"invalid": "Must be a string (JSON text in quotes)."}

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number and nothing else: ``"2"``, ``2.0`` or ``true`` are refused."""

    default_error_messages = {"invalid": "Must be a whole number (a JSON integer)."}

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- The logged-in person's own preferences ------------------------------------------------------


class PurposeStateSerializer(serializers.Serializer):
    """One purpose and the person's state for it (a ``consent.selectors.ConsentState``)."""

    code = serializers.CharField(source="purpose.code")
    name = serializers.CharField(source="purpose.name")
    wording = serializers.CharField(
        source="purpose.wording", help_text="The exact words shown when asking."
    )
    optional = serializers.BooleanField(
        source="purpose.is_optional",
        help_text="False for a mandatory purpose, which has no consent to give or withdraw.",
    )
    mandatory_reason = serializers.CharField(
        source="purpose.mandatory_reason", help_text="Why there is no choice; empty if optional."
    )
    granted = serializers.BooleanField(
        help_text="In force now. A mandatory purpose is on while the account is active."
    )
    legal_basis = serializers.ChoiceField(choices=ConsentEvent.LegalBasis.choices, allow_null=True)
    since = serializers.DateTimeField(
        allow_null=True, help_text="When the decision in force was made; null if never asked."
    )


class PreferenceChoicesSerializer(serializers.Serializer):
    # A purpose code is a slug (``Purpose.code``). Anything else (a NUL, a line break, 10 kB of
    # text) is refused here, before it reaches a query: PostgreSQL refuses NUL in a string.
    NOT_A_CODE = (
        "Each key must be a purpose code: letters, digits, hyphens and underscores, "
        f"at most {PURPOSE_CODE_MAX_LENGTH} characters."
    )

    choices = serializers.DictField(
        child=StrictBooleanField(),
        allow_empty=False,
        help_text='Purpose code to decision, e.g. {"newsletter": true, "special_offers": false}.',
    )

    def validate_choices(self, value: dict[str, bool]) -> dict[str, bool]:
        if not all(PURPOSE_CODE.fullmatch(code) for code in value):
            raise serializers.ValidationError(self.NOT_A_CODE)
        return value


class PreferenceChangeSerializer(serializers.Serializer):
    """One decision that changed the person's state (a ledger row)."""

    purpose = serializers.CharField(source="purpose.code")
    granted = serializers.BooleanField()
    occurred_at = serializers.DateTimeField()


class MyPreferencesSerializer(serializers.Serializer):
    purposes = PurposeStateSerializer(many=True)


class MyPreferencesUpdateSerializer(serializers.Serializer):
    purposes = PurposeStateSerializer(many=True)
    changed = PreferenceChangeSerializer(
        many=True, help_text="The decisions recorded; empty when every choice was already so."
    )


# --- Staff: one person's consent record -----------------------------------------------------------


class ConsentRecordQuerySerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="The person's email address, in any case.")


class ConsentRecordSubjectSerializer(NeedToKnowSerializer):
    need_to_know_model = settings.AUTH_USER_MODEL

    id = serializers.IntegerField()
    email = serializers.EmailField()
    is_active = serializers.BooleanField()


class ConsentRecordEventSerializer(NeedToKnowSerializer):
    """One ledger row: who, what, when, how and under which words and policy version. The
    browser's details are the Privacy Officer's alone (``consent.need_to_know``): left out
    for everyone else."""

    need_to_know_model = "consent.ConsentEvent"

    id = serializers.IntegerField()
    purpose = serializers.CharField(source="purpose.code")
    granted = serializers.BooleanField()
    legal_basis = serializers.ChoiceField(choices=ConsentEvent.LegalBasis.choices)
    # DRF's metaclass takes declared fields off the class; the stubs see this one replacing
    # Field.source.
    source = serializers.ChoiceField(choices=ConsentSource.choices)  # type: ignore[assignment]
    policy_version = serializers.IntegerField(source="policy_version.number")
    wording = serializers.CharField(help_text="The exact words the person was shown.")
    occurred_at = serializers.DateTimeField()
    actor_email = serializers.EmailField(
        source="actor.email", allow_null=True, help_text="The member of staff who recorded it."
    )
    ip_address = serializers.IPAddressField(
        allow_null=True,
        required=False,
        help_text="Truncated: /24 for IPv4, /48 for IPv6. Privacy Officers only.",
    )
    user_agent = serializers.CharField(required=False, help_text="Privacy Officers only.")


class ConsentRecordSerializer(serializers.Serializer):
    subject = ConsentRecordSubjectSerializer()
    current = PurposeStateSerializer(many=True)
    history = ConsentRecordEventSerializer(many=True, help_text="Every decision, newest first.")


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
