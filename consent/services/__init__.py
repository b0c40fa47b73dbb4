"""Every write of the consent app. Import from here: ``from consent.services import ...``."""

from consent.models import ConsentSource

from .collection import CollectionChoice, record_collection_choice
from .cookies import record_cookie_choice
from .integrity import (
    ConsentCheck,
    ConsentDifference,
    ConsentRepair,
    ConsentRepairOutcome,
    check_current_consent,
    repair_current_consent,
)
from .ledger import (
    ConsentError,
    LegalBasis,
    current_policy_version,
    grant_consent,
    record_decisions,
    withdraw_all_marketing,
    withdraw_consent,
)
from .newsletter import (
    NewsletterAlreadyConfirmed,
    NewsletterConfirmation,
    NewsletterRequest,
    TooManyNewsletterRequests,
    confirm_newsletter_subscription,
    newsletter_address,
    newsletter_request_used,
    read_newsletter_request,
    request_newsletter_subscription,
)
from .policy import (
    dismiss_policy_notice,
    publish_policy_draft,
    publish_policy_version,
    save_policy_draft,
)
from .purposes import create_purpose, reword_purpose

__all__ = [
    "CollectionChoice",
    "ConsentCheck",
    "ConsentDifference",
    "ConsentError",
    "ConsentRepair",
    "ConsentRepairOutcome",
    "ConsentSource",
    "LegalBasis",
    "NewsletterAlreadyConfirmed",
    "NewsletterConfirmation",
    "NewsletterRequest",
    "TooManyNewsletterRequests",
    "check_current_consent",
    "confirm_newsletter_subscription",
    "create_purpose",
    "current_policy_version",
    "dismiss_policy_notice",
    "grant_consent",
    "newsletter_address",
    "newsletter_request_used",
    "publish_policy_draft",
    "publish_policy_version",
    "read_newsletter_request",
    "record_collection_choice",
    "record_cookie_choice",
    "record_decisions",
    "repair_current_consent",
    "request_newsletter_subscription",
    "reword_purpose",
    "save_policy_draft",
    "withdraw_all_marketing",
    "withdraw_consent",
]
