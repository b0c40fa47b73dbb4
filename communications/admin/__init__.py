"""Staff pages of communications, a module per area; importing the package registers them all.

Every write goes through ``communications.services`` (or ``consent.services`` for a policy
draft); campaign staff never see a recipient's address.
"""

from communications.admin import (  # noqa: F401 - each module registers its admin classes
    business_transitions,
    campaigns,
    deliveries,
    events,
    policy_drafts,
    provider_events,
    suppressions,
)
from communications.referrals import admin as referrals  # noqa: F401 - the referrals' report
