"""The register of third parties that may receive personal data, and the log of each time one did.

``ThirdParty`` is the register: who, in what role, for which purposes, which kinds of data
it may receive, what it promises about keeping them, and from when until when. Staff change
it only through ``sharing.services.register``, which writes a ``ThirdPartyChange`` row (who,
when, why, what changed) in the same transaction.

``Disclosure`` is the log: one row per disclosure of one person's data to one party, written
only by ``sharing.services.disclosures.record_disclosure`` after the register's rules are
checked. ``ThirdPartyChange`` and ``Disclosure`` are append-only: on PostgreSQL a trigger
refuses ``UPDATE`` and ``DELETE``, except the one update erasure makes to a disclosure
(its ``reference`` emptied, every other column unchanged; migration 0003).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from api_keys.models import SystemAPIKey


class Role(models.TextChoices):
    """What the party is to us under data-protection law."""

    PROCESSOR = "processor", "Processor (acts only on our instructions)"
    INDEPENDENT_CONTROLLER = "controller", "Independent controller"
    PUBLIC_AUTHORITY = "authority", "Public authority (court, police, regulator)"
    AGGREGATE_ONLY = "aggregate", "Aggregate-only recipient (never personal data)"


class DataCategory(models.TextChoices):
    """The kinds of personal data a party may receive; a disclosure names the ones it sent."""

    NAME = "name", "Name"
    POSTAL_ADDRESS = "postal_address", "Postal address"
    EMAIL = "email", "Email address"
    PHONE = "phone", "Phone number"
    ORDER_HISTORY = "order_history", "Orders and what was in them"
    SURVEY_ANSWERS = "survey_answers", "Survey and contest answers"
    ACCOUNT_RECORDS = "account_records", "Account records (sign-up, log-ins, consent history)"


class DisclosurePurpose(models.TextChoices):
    """Why data goes to a third party: the purposes the policy names for sharing."""

    CARD_AUTHORISATION = "card_authorisation", "Authorising your card payment"
    DELIVERY = "delivery", "Delivering your order"
    PHOTO_SERVICE = "photo_service", "Providing the Jessops Photo printing service"
    PRIZE_AWARD = "prize_award", "Notifying contest winners and awarding prizes"
    AGGREGATE_STATISTICS = (
        "aggregate_statistics",
        "Statistics for suppliers and advertisers (never personal data)",
    )
    LEGAL_OBLIGATION = "legal_obligation", "Complying with a court order or legal process"
    BUSINESS_TRANSFER = (
        "business_transfer",
        "Transferring the business to a new owner (a merger, acquisition or sale of assets)",
    )


class LegalBasis(models.TextChoices):
    """The lawful basis of a disclosure (UK GDPR Article 6(1))."""

    CONSENT = "consent", "Your consent"
    CONTRACT = "contract", "Needed for your order or a service you asked for"
    LEGAL_OBLIGATION = "legal_obligation", "Required by law"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Our legitimate interests"


class ThirdParty(models.Model):
    """One organisation (or kind of organisation) in the register."""

    name = models.CharField(max_length=200, unique=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    purposes = models.JSONField(
        default=list, help_text="The purposes (DisclosurePurpose values) it may receive data for."
    )
    purpose_description = models.TextField(
        help_text="What the party does with the data, in plain words (shown to customers)."
    )
    consent_purposes = models.ManyToManyField(
        "consent.Purpose",
        blank=True,
        related_name="+",
        help_text="The consent purposes whose wording tells people about this recipient; "
        "a disclosure on the basis of consent needs one of them granted.",
    )
    categories = models.JSONField(
        default=list,
        blank=True,
        help_text="The kinds of personal data (DataCategory values) it may receive; none for "
        "an aggregate-only recipient.",
    )
    retention_promise = models.TextField(
        help_text="What the party promises about keeping the data, and for how long."
    )
    contract_reference = models.CharField(max_length=200, blank=True)
    privacy_contact = models.CharField(
        max_length=300, blank=True, help_text="Who answers for data protection at the party."
    )
    notification_email = models.EmailField(
        blank=True, help_text="Where to tell the party of a correction or erasure."
    )
    notification_url = models.URLField(
        blank=True, help_text="An HTTPS endpoint for the same notices, if the party has one."
    )
    active_from = models.DateField(help_text="First day data may go to the party.")
    active_until = models.DateField(
        null=True, blank=True, help_text="Last day data may go to the party; empty if open-ended."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "third party"
        verbose_name_plural = "third parties"
        constraints = [
            models.CheckConstraint(
                condition=Q(active_until__isnull=True)
                | Q(active_until__gte=models.F("active_from")),
                name="sharing_thirdparty_active_dates_in_order",
            ),
            models.CheckConstraint(
                condition=~Q(role=Role.AGGREGATE_ONLY) | Q(categories=[]),
                name="sharing_thirdparty_aggregate_gets_no_personal_data",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_active_on(self, day) -> bool:
        return self.active_from <= day and (self.active_until is None or day <= self.active_until)

    def purpose_labels(self) -> list[str]:
        labels = dict(DisclosurePurpose.choices)
        return [labels.get(code, code) for code in self.purposes]

    def category_labels(self) -> list[str]:
        labels = dict(DataCategory.choices)
        return [labels.get(code, code) for code in self.categories]


class ThirdPartyChange(models.Model):
    """One write to the register, for ever: who, when, why, and each field before and after.

    Append-only (on PostgreSQL a trigger refuses ``UPDATE`` and ``DELETE``). A registration
    records every field (``before`` empty); a change only the fields that changed."""

    class Kind(models.TextChoices):
        REGISTERED = "registered", "Registered"
        CHANGED = "changed", "Changed"

    party = models.ForeignKey(ThirdParty, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict)
    reason = models.TextField(help_text="Why the register was changed.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff; empty for the parties seeded from the policy.",
    )
    changed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "register change"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.party_id} on {self.changed_at:%d %b %Y}"


class Disclosure(models.Model):
    """One disclosure of one person's data to one party: what, why, on which basis, for
    which order or request, by whom, when.

    ``person`` points at the account; after erasure that row holds no name or address, so
    the log stays provable without saying who the person was. Acting: a member of staff
    (``actor``), the person themselves for a service they asked for (``actor`` is then
    ``person``), or one of the shop's systems (``system``, its API key); never neither."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disclosures"
    )
    party = models.ForeignKey(ThirdParty, on_delete=models.PROTECT, related_name="disclosures")
    categories = models.JSONField(help_text="The kinds of data sent (DataCategory values).")
    purpose = models.CharField(max_length=30, choices=DisclosurePurpose.choices)
    legal_basis = models.CharField(max_length=30, choices=LegalBasis.choices)
    reference = models.CharField(
        max_length=200,
        blank=True,
        help_text="The order, request or report the disclosure was for; emptied on erasure "
        "unless the disclosure was required by law.",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member of staff who made the disclosure, or the person themselves "
        "for a service they asked for.",
    )
    system = models.ForeignKey(
        SystemAPIKey,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The shop's system that made it, by its API key.",
    )
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["person", "-occurred_at"], name="sharing_disclosure_person"),
            models.Index(fields=["party", "-occurred_at"], name="sharing_disclosure_party"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(actor__isnull=False, system__isnull=True)
                | Q(actor__isnull=True, system__isnull=False),
                name="sharing_disclosure_one_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.party} received data of {self.person_id} ({self.occurred_at:%d %b %Y})"

    def category_labels(self) -> list[str]:
        labels = dict(DataCategory.choices)
        return [labels.get(code, code) for code in self.categories]


from sharing import (  # noqa: E402, F401  (own modules)
    legal_models,
    notification_models,
    order_models,
    photo_models,
    report_models,
    transfer_models,
)
