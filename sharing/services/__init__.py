"""Every write of the sharing app. Import from here: ``from sharing.services import ...``."""

from .disclosures import DisclosureRefused, Rule, record_disclosure, record_disclosures
from .legal_requests import (
    LegalRequestError,
    LegalScope,
    approve_legal_request,
    fulfil_legal_request,
    log_legal_request,
    reject_legal_request,
)
from .notifications import (
    NotificationError,
    notify_recipients_of_correction,
    notify_recipients_of_erasure,
    record_notified_by_hand,
)
from .register import (
    PartyDetails,
    RegisterError,
    change_third_party,
    check_party_details,
    register_third_party,
)

__all__ = [
    "DisclosureRefused",
    "LegalRequestError",
    "LegalScope",
    "NotificationError",
    "PartyDetails",
    "RegisterError",
    "Rule",
    "approve_legal_request",
    "change_third_party",
    "check_party_details",
    "fulfil_legal_request",
    "log_legal_request",
    "notify_recipients_of_correction",
    "notify_recipients_of_erasure",
    "record_disclosure",
    "record_disclosures",
    "record_notified_by_hand",
    "register_third_party",
    "reject_legal_request",
]
