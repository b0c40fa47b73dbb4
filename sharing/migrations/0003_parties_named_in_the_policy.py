"""The third parties policy version 1 names, as the register's first entries, each with its
registration in the change log (no member of staff: they come from the policy itself)."""

import datetime

from django.db import migrations
from django.utils import timezone

# The day policy version 1 took effect (consent migration 0002).
POLICY_V1_EFFECTIVE = datetime.date(2026, 1, 1)
NOT_RETAINED = (
    "Does not retain, share, store or use personally identifiable information for any "
    "secondary purpose (policy: Third Party Intermediaries)."
)

PARTIES = [
    {
        "name": "Our bank (card authorisation)",
        "role": "processor",
        "purposes": ["card_authorisation"],
        "purpose_description": "Authorises debit and credit card payments for orders.",
        "categories": ["name", "postal_address"],
        "retention_promise": NOT_RETAINED,
        "consent_purposes": [],
    },
    {
        "name": "Parcelforce",
        "role": "processor",
        "purposes": ["delivery"],
        "purpose_description": "Delivers parcels to the address given with the order.",
        "categories": ["name", "postal_address"],
        "retention_promise": NOT_RETAINED,
        "consent_purposes": [],
    },
    {
        "name": "Our other parcel carriers",
        "role": "processor",
        "purposes": ["delivery"],
        "purpose_description": (
            "Deliver parcels Parcelforce does not carry, to the address given with the order."
        ),
        "categories": ["name", "postal_address"],
        "retention_promise": NOT_RETAINED,
        "consent_purposes": [],
    },
    {
        "name": "CEWE (Jessops Photo)",
        "role": "controller",
        "purposes": ["photo_service"],
        "purpose_description": (
            "Provides the Jessops Photo online printing service and takes payment for its "
            "orders. CEWE may use the data only to provide that service."
        ),
        "categories": ["name", "postal_address", "email", "phone"],
        "retention_promise": (
            "Uses personally identifiable information only to provide the Jessops Photo "
            "service (policy: Jessops Photo). Emails and online marketing can be refused "
            "on the Jessops Photo website."
        ),
        "consent_purposes": ["partner_photo"],
    },
    {
        "name": "Survey and contest sponsors",
        "role": "controller",
        "purposes": ["prize_award"],
        "purpose_description": "Notify the winners of a contest or survey and award the prizes.",
        "categories": ["name", "postal_address", "email"],
        "retention_promise": (
            "Uses contact details only to notify winners and award prizes (policy: Surveys "
            "& Contests)."
        ),
        "consent_purposes": ["surveys"],
    },
    {
        "name": "Suppliers and advertisers",
        "role": "aggregate",
        "purposes": ["aggregate_statistics"],
        "purpose_description": (
            "Receive aggregated figures, such as how many people looked at or bought their "
            "products, or followed links from their sites; never linked to anyone's "
            "personally identifiable information (policy: Aggregate Information)."
        ),
        "categories": [],
        "retention_promise": "Receives no personal data.",
        "consent_purposes": [],
    },
    {
        "name": "Courts and law enforcement",
        "role": "authority",
        "purposes": ["legal_obligation"],
        "purpose_description": (
            "Receive what the law requires: when we believe in good faith that disclosure is "
            "needed to comply with a judicial proceeding, a court order or legal process "
            "(policy: Legal Disclaimer)."
        ),
        "categories": [
            "name",
            "postal_address",
            "email",
            "phone",
            "order_history",
            "survey_answers",
            "account_records",
        ],
        "retention_promise": "As the court or authority decides under the law it acts under.",
        "consent_purposes": [],
    },
]
FIELDS = ("name", "role", "purposes", "purpose_description", "categories", "retention_promise")


def load(apps, schema_editor):
    ThirdParty = apps.get_model("sharing", "ThirdParty")
    ThirdPartyChange = apps.get_model("sharing", "ThirdPartyChange")
    Purpose = apps.get_model("consent", "Purpose")
    now = timezone.now()
    for entry in PARTIES:
        if ThirdParty.objects.filter(name=entry["name"]).exists():
            continue
        party = ThirdParty.objects.create(
            active_from=POLICY_V1_EFFECTIVE, **{field: entry[field] for field in FIELDS}
        )
        purposes = list(Purpose.objects.filter(code__in=entry["consent_purposes"]))
        party.consent_purposes.set(purposes)
        after = {field: entry[field] for field in FIELDS}
        after.update(
            consent_purposes=sorted(purpose.code for purpose in purposes),
            contract_reference="",
            privacy_contact="",
            notification_email="",
            notification_url="",
            active_from=POLICY_V1_EFFECTIVE.isoformat(),
            active_until=None,
        )
        ThirdPartyChange.objects.create(
            party=party,
            kind="registered",
            before={},
            after=after,
            reason="Named in privacy policy version 1.",
            changed_by=None,
            changed_at=now,
        )


def unload(apps, schema_editor):
    # The change log is append-only: the seeded parties stay when migrating back, and
    # ``load`` skips those already there when migrating forward again.
    pass


class Migration(migrations.Migration):
    dependencies = [
        ("sharing", "0002_append_only_triggers"),
        ("consent", "0002_policy_v1_and_purposes"),
    ]

    operations = [migrations.RunPython(load, unload)]
