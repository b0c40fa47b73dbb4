"""The staff roles and exactly the permissions each job needs (docs/STAFF.md).

``accounts/migrations/0007_staff_roles.py`` creates the groups as they were first defined;
``python manage.py staff_roles`` sets every role's group to this table again (after an
upgrade that changes it, or if someone edited a group by hand). Which personal fields each
role sees is declared per model in each app's ``need_to_know`` module.
"""

from __future__ import annotations

from privacy_site.roles import (
    CUSTOMER_SUPPORT,
    DISPATCH,
    MARKETING,
    PRIVACY_OFFICER,
    WEB_SALES,
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # Find a customer, see contact details and preferences, record a preference change on
    # the customer's behalf, log privacy requests.
    CUSTOMER_SUPPORT: (
        "accounts.view_user",
        "accounts.view_profile",
        "accounts.view_addressverification",
        "account.view_emailaddress",
        "consent.view_purpose",
        "consent.view_consentevent",
        "consent.add_consentevent",
        "consent.view_currentconsent",
        "accounts.view_privacyrequest",
        "accounts.add_privacyrequest",
    ),
    # Orders, and the ordering customer's name, email and phone; no consent changes.
    WEB_SALES: ("sharing.view_order",),
    # Name and postal address on orders only.
    DISPATCH: ("sharing.view_order",),
    # Campaigns, their previews and statistics; recipients only masked, audiences as counts.
    MARKETING: (
        "consent.view_purpose",
        "communications.view_campaign",
        "communications.add_campaign",
        "communications.change_campaign",
        "communications.send_campaign",
        "communications.view_delivery",
        "communications.view_referral",
        "surveys.view_survey",
        "surveys.add_survey",
        "surveys.change_survey",
        "surveys.view_sponsorstatement",
        "surveys.view_results",
        "surveys.draw_winners",
    ),
    # Policy versions, privacy and legal requests, the register of third parties, the
    # disclosure log and the audit trails.
    PRIVACY_OFFICER: (
        "consent.view_policyversion",
        "consent.add_policyversion",
        "consent.view_policydraft",
        "consent.add_policydraft",
        "consent.change_policydraft",
        "communications.view_policypublication",
        "communications.view_businesstransition",
        "communications.add_businesstransition",
        "consent.view_purpose",
        "consent.add_purpose",
        "consent.change_purpose",
        "consent.view_consentevent",
        "consent.view_currentconsent",
        "consent.view_cookieconsent",
        "communications.view_suppression",
        "communications.add_suppression",
        "communications.delete_suppression",
        "communications.view_suppressionlift",
        "accounts.view_user",
        "accounts.view_profile",
        "accounts.view_addressverification",
        "account.view_emailaddress",
        "accounts.view_auditevent",
        "accounts.view_privacyrequest",
        "accounts.add_privacyrequest",
        "accounts.fulfil_privacyrequest",
        "sharing.view_thirdparty",
        "sharing.add_thirdparty",
        "sharing.change_thirdparty",
        "sharing.view_thirdpartychange",
        "sharing.view_disclosure",
        "sharing.view_recipientnotification",
        "sharing.record_recipientnotification",
        "sharing.view_legalrequest",
        "sharing.add_legalrequest",
        "sharing.approve_legalrequest",
        "sharing.view_photoservicemembership",
        "sharing.view_businesstransfer",
        "sharing.change_businesstransfer",
        "sharing.view_suppliersite",
        "sharing.add_suppliersite",
        "sharing.view_aggregatereport",
        "sharing.generate_aggregatereport",
        "sharing.view_aggregatedisclosure",
        "surveys.view_survey",
        "surveys.view_sponsorstatement",
        "surveys.view_winner_contacts",
        "communications.view_marketingevent",
        "staff_access.view_staffaccess",
        "staff_access.view_staffsigninevent",
        "retention.view_legalhold",
        "retention.add_legalhold",
        "retention.change_legalhold",
        "retention.view_retentionrun",
    ),
}
