"""Staff pages of accounts, a module per area; importing the package registers them all."""

from accounts.admin import (  # noqa: F401 - each module registers its admin classes
    audit,
    email_addresses,
    privacy_requests,
    users,
)
