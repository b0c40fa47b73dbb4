"""Every write of the accounts app. Import from here: ``from accounts.services import ...``."""

from .audit import (
    FieldChange,
    audit_events_for,
    record_changes,
    record_secret_change,
    redact_audit_values_for,
)
from .profile import (
    EDITABLE_FIELDS,
    FIELD_LABELS,
    InvalidPhone,
    ProfileUpdate,
    latest_address_verification,
    normalise_phone,
    normalise_profile_fields,
    profile_values,
    update_profile,
)

__all__ = [
    "EDITABLE_FIELDS",
    "FIELD_LABELS",
    "FieldChange",
    "InvalidPhone",
    "ProfileUpdate",
    "audit_events_for",
    "latest_address_verification",
    "normalise_phone",
    "normalise_profile_fields",
    "profile_values",
    "record_changes",
    "record_secret_change",
    "redact_audit_values_for",
    "update_profile",
]
