"""Who sees which personal field of the sharing app's models (``privacy_site.need_to_know``).

On an order, Dispatch sees the delivery name and address and nothing else about the customer;
Web Sales sees the name, and the ordering customer's name, email and phone (declared on
``accounts``), not the address. The disclosure log, notices, memberships and legal requests
are the Privacy Officer's.
"""

from __future__ import annotations

from privacy_site.need_to_know import declare, seen_by
from privacy_site.roles import DISPATCH, PRIVACY_OFFICER, WEB_SALES

ADDRESS = seen_by(DISPATCH, PRIVACY_OFFICER)
OFFICER = seen_by(PRIVACY_OFFICER)

declare(
    "sharing.Order",
    delivery_name=seen_by(DISPATCH, WEB_SALES, PRIVACY_OFFICER),
    address_line_1=ADDRESS,
    address_line_2=ADDRESS,
    town=ADDRESS,
    postcode=ADDRESS,
    customer=seen_by(WEB_SALES, PRIVACY_OFFICER),
    # The first answer holds the customer's account number.
    answer=seen_by(WEB_SALES, PRIVACY_OFFICER),
)

declare("sharing.Disclosure", person=OFFICER)
declare("sharing.RecipientNotification", person=OFFICER)
declare("sharing.PhotoServiceMembership", person=OFFICER)
declare("sharing.LegalRequest", people=OFFICER)
