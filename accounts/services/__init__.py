"""Every write of the accounts app. Import from here: ``from accounts.services import ...``."""

from accounts.data_rights import PrivacyError

from .audit import (
    FieldChange,
    record_changes,
    record_secret_change,
    redact_audit_values_for,
)
from .privacy import (
    deactivate_account,
    erase_account,
    reactivate_account,
    request_erasure,
)
from .profile import (
    EDITABLE_FIELDS,
    FIELD_LABELS,
    InvalidPhone,
    ProfileUpdate,
    normalise_phone,
    normalise_profile_fields,
    profile_values,
    record_email_change,
    update_profile,
)

__all__ = [
    "EDITABLE_FIELDS",
    "FIELD_LABELS",
    "FieldChange",
    "InvalidPhone",
    "PrivacyError",
    "ProfileUpdate",
    "deactivate_account",
    "erase_account",
    "normalise_phone",
    "normalise_profile_fields",
    "profile_values",
    "reactivate_account",
    "record_changes",
    "record_email_change",
    "record_secret_change",
    "redact_audit_values_for",
    "request_erasure",
    "update_profile",
]
