"""Who sees which personal field of the communications app's models
(``privacy_site.need_to_know``).

Marketing works with campaigns and counts: a recipient is only ever shown masked
(``a***@example.com``), and nobody searches or filters by an address here. Only superusers
(operations) see the rest.
"""

from __future__ import annotations

from privacy_site.masking import mask_address
from privacy_site.need_to_know import declare, seen_by

NOBODY_IN_FULL = seen_by(masked_as=mask_address)
NOBODY = seen_by()

declare(
    "communications.Delivery",
    user=NOBODY,
    to_email=NOBODY_IN_FULL,
    context=NOBODY,  # signed links naming the recipient
    last_error=NOBODY,  # shown with its addresses masked
)

declare(
    "communications.ProviderEvent",
    recipient=NOBODY_IN_FULL,
    description=NOBODY,  # shown with its addresses masked
)
