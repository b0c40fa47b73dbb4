"""Every write of the consent app. Import from here: ``from consent.services import ...``."""

from .ledger import (
    ConsentError,
    ConsentState,
    LegalBasis,
    Source,
    consent_status,
    current_policy_version,
    grant_consent,
    record_decisions,
    withdraw_all_marketing,
    withdraw_consent,
)
from .policy import publish_policy_version

__all__ = [
    "ConsentError",
    "ConsentState",
    "LegalBasis",
    "Source",
    "consent_status",
    "current_policy_version",
    "grant_consent",
    "publish_policy_version",
    "record_decisions",
    "withdraw_all_marketing",
    "withdraw_consent",
]
