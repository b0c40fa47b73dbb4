"""Every write of the sharing app. Import from here: ``from sharing.services import ...``."""

from .disclosures import DisclosureRefused, Rule, record_disclosure, record_disclosures
from .register import (
    PartyDetails,
    RegisterError,
    change_third_party,
    check_party_details,
    register_third_party,
)

__all__ = [
    "DisclosureRefused",
    "PartyDetails",
    "RegisterError",
    "Rule",
    "change_third_party",
    "check_party_details",
    "record_disclosure",
    "record_disclosures",
    "register_third_party",
]
