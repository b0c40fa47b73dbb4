"""Who sees which personal field of the consent app's models (``privacy_site.need_to_know``).

Customer Support sees whose preferences they are; the browser details kept as proof (the
truncated IP address and the user agent) are the Privacy Officer's alone.
"""

from __future__ import annotations

from privacy_site.need_to_know import declare, seen_by
from privacy_site.roles import CUSTOMER_SUPPORT, PRIVACY_OFFICER, SHOP_SYSTEMS

PROOF = seen_by(PRIVACY_OFFICER)

declare(
    "consent.ConsentEvent",
    subject=seen_by(CUSTOMER_SUPPORT, PRIVACY_OFFICER, SHOP_SYSTEMS),
    ip_address=PROOF,
    user_agent=PROOF,
)

declare("consent.CurrentConsent", subject=seen_by(CUSTOMER_SUPPORT, PRIVACY_OFFICER))

declare(
    "consent.CookieConsent",
    user=seen_by(CUSTOMER_SUPPORT, PRIVACY_OFFICER),
    ip_address=PROOF,
    user_agent=PROOF,
)
