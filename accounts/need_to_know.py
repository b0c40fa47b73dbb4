"""Who sees which personal field of the accounts app's models (``privacy_site.need_to_know``).

Customer Support finds customers and sees their contact details; Web Sales sees the name,
email and phone of the customer who ordered (on the order); the Privacy Officer sees what
requests and audits need. Marketing and Dispatch see none of it here.
"""

from __future__ import annotations

from privacy_site.masking import mask_address
from privacy_site.need_to_know import declare, seen_by
from privacy_site.roles import CUSTOMER_SUPPORT, PRIVACY_OFFICER, SHOP_SYSTEMS, WEB_SALES

CONTACT = seen_by(CUSTOMER_SUPPORT, PRIVACY_OFFICER)

declare(
    "accounts.User",
    # The shop's systems look a person up by the address they already hold.
    email=seen_by(
        CUSTOMER_SUPPORT, WEB_SALES, PRIVACY_OFFICER, SHOP_SYSTEMS, masked_as=mask_address
    ),
    first_name=seen_by(CUSTOMER_SUPPORT, WEB_SALES, PRIVACY_OFFICER),
    last_name=seen_by(CUSTOMER_SUPPORT, WEB_SALES, PRIVACY_OFFICER),
)

declare(
    "accounts.Profile",
    address_line_1=CONTACT,
    address_line_2=CONTACT,
    town=CONTACT,
    postcode=CONTACT,
    phone=seen_by(CUSTOMER_SUPPORT, WEB_SALES, PRIVACY_OFFICER),
    contact_channel=CONTACT,
)

declare(
    "accounts.AddressVerification",
    postcode=CONTACT,
    detail=CONTACT,
    result=CONTACT,
)

declare(
    "accounts.AuditEvent",
    subject=seen_by(PRIVACY_OFFICER),
    old_value=seen_by(PRIVACY_OFFICER),
    new_value=seen_by(PRIVACY_OFFICER),
)

declare(
    "accounts.PrivacyRequest",
    subject=CONTACT,
    requester_name=CONTACT,
    requester_contact=CONTACT,
    details=CONTACT,
)

# allauth's model, shown by accounts.admin.email_addresses.
declare(
    "account.EmailAddress",
    email=seen_by(CUSTOMER_SUPPORT, PRIVACY_OFFICER, masked_as=mask_address),
    user=CONTACT,
)
