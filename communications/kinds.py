"""Every kind of email the product sends, and what each one needs before it may go.

A kind is either *marketing* (bound to an optional purpose: it needs the recipient's current
consent for that purpose), *service* (bound to the mandatory service-announcements purpose: it
goes to every active account, and only deactivation stops it), a *notice* of a policy change
or a business transition (its audience rule says who it reaches: see ``NoticeAudience``), or
*transactional* (caused by something the recipient or a member of staff just did).
``communications.gate.may_send`` applies these rules; nothing else decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db import models

from consent.models import Purpose


class MessageKind(models.TextChoices):
    WELCOME = "welcome", "Welcome and email verification"
    NEWSLETTER = "newsletter", "Newsletter"
    SPECIAL_OFFER = "special_offer", "Special offer"
    SURVEY_INVITATION = "survey_invitation", "Survey invitation"
    PARTNER_OFFER = "partner_offer", "Photo-printing partner offer"
    SERVICE_ANNOUNCEMENT = "service_announcement", "Service announcement"
    POLICY_CHANGE = "policy_change", "Privacy policy change notice (practice change)"
    POLICY_USE_CHANGE = "policy_use_change", "Privacy policy change notice (new use of data)"
    BUSINESS_TRANSITION = "business_transition", "Business transition notice"
    CONSENT_RECEIPT = "consent_receipt", "Consent receipt"
    OPT_IN_CONFIRMATION = "opt_in_confirmation", "Newsletter double opt-in confirmation"
    REFERRAL = "referral", "Referral (send a wishlist to a friend)"
    CONTEST_WINNER = "contest_winner", "Contest winner notification"
    CAMPAIGN_TEST = "campaign_test", "Campaign test send to its author"
    ACCOUNT_SECURITY = "account_security", "Account security (password reset, email change)"
    ERASURE_CONFIRMATION = "erasure_confirmation", "Confirmation that an account is being erased"
    RECIPIENT_NOTICE = "recipient_notice", "Notice to a recipient of a correction or erasure"


class Category(StrEnum):
    MARKETING = "marketing"
    SERVICE = "service"
    NOTICE = "notice"
    TRANSACTIONAL = "transactional"


class NoticeAudience(StrEnum):
    """Who a notice reaches (the definitions are in docs/CONSENT.md); gone people never."""

    # A practice change or a business transition: people opted in to communications.
    OPTED_IN = "opted_in"
    # A use change: everyone not opted out of all communication, since their data is at stake.
    NOT_OPTED_OUT = "not_opted_out"


@dataclass(frozen=True)
class KindRule:
    category: Category
    # The consent purpose a marketing kind needs; the mandatory purpose for service kinds.
    purpose: str | None = None
    # Kinds that may go to an address with no account behind it (nobody to check consent of).
    to_address: bool = False
    # Kinds whose context holds a credential (a verification or reset link): forgotten once
    # the message has gone or given up, so the database never holds a usable link.
    forget_context: bool = False
    # For notices: who they reach, checked when the row is written and again at send time.
    audience: NoticeAudience | None = None
    # False for a kind whose recipient must never be written down, not even in the outbox
    # until it is sent: it has a sending path of its own.
    via_outbox: bool = True

    @property
    def is_marketing(self) -> bool:
        return self.category is Category.MARKETING

    @property
    def is_notice(self) -> bool:
        return self.category is Category.NOTICE


RULES: dict[str, KindRule] = {
    MessageKind.WELCOME: KindRule(Category.TRANSACTIONAL, forget_context=True),
    MessageKind.NEWSLETTER: KindRule(Category.MARKETING, Purpose.NEWSLETTER),
    MessageKind.SPECIAL_OFFER: KindRule(Category.MARKETING, Purpose.SPECIAL_OFFERS),
    MessageKind.SURVEY_INVITATION: KindRule(Category.MARKETING, Purpose.SURVEYS),
    MessageKind.PARTNER_OFFER: KindRule(Category.MARKETING, Purpose.PARTNER_PHOTO),
    MessageKind.SERVICE_ANNOUNCEMENT: KindRule(Category.SERVICE, Purpose.SERVICE_ANNOUNCEMENTS),
    # Notices are bound to the mandatory purpose (a campaign needs one) but are not service
    # mail: the policy says who may be told of each change, and nobody else is.
    MessageKind.POLICY_CHANGE: KindRule(
        Category.NOTICE, Purpose.SERVICE_ANNOUNCEMENTS, audience=NoticeAudience.OPTED_IN
    ),
    MessageKind.POLICY_USE_CHANGE: KindRule(
        Category.NOTICE, Purpose.SERVICE_ANNOUNCEMENTS, audience=NoticeAudience.NOT_OPTED_OUT
    ),
    MessageKind.BUSINESS_TRANSITION: KindRule(
        Category.NOTICE, Purpose.SERVICE_ANNOUNCEMENTS, audience=NoticeAudience.OPTED_IN
    ),
    MessageKind.CONSENT_RECEIPT: KindRule(Category.TRANSACTIONAL),
    # The person asked for it a moment ago; the account does not exist until they confirm.
    MessageKind.OPT_IN_CONFIRMATION: KindRule(
        Category.TRANSACTIONAL, to_address=True, forget_context=True
    ),
    # Sent on a customer's behalf to a friend whose details are never stored, not even in
    # the outbox: communications.referrals sends it.
    MessageKind.REFERRAL: KindRule(Category.TRANSACTIONAL, to_address=True, via_outbox=False),
    MessageKind.CONTEST_WINNER: KindRule(Category.TRANSACTIONAL),
    MessageKind.CAMPAIGN_TEST: KindRule(Category.TRANSACTIONAL),
    # django-allauth's own emails (password reset, email change, "you already have an
    # account"), always to an existing account: unknown addresses are never emailed.
    MessageKind.ACCOUNT_SECURITY: KindRule(Category.TRANSACTIONAL, forget_context=True),
    # The last message to someone erasing their account: written to the bare address, with
    # no link to the account, so the address is forgotten once it has gone.
    MessageKind.ERASURE_CONFIRMATION: KindRule(Category.TRANSACTIONAL, to_address=True),
    # A third party told that someone corrected or erased data it received (UK GDPR Article
    # 19): to the party's address from the register, forgotten from the row once it has gone.
    MessageKind.RECIPIENT_NOTICE: KindRule(Category.TRANSACTIONAL, to_address=True),
}

# Kinds a campaign can send: marketing kinds, service announcements and notices.
CAMPAIGN_KINDS = [
    kind
    for kind, rule in RULES.items()
    if rule.category in (Category.MARKETING, Category.SERVICE, Category.NOTICE)
]
# Those kinds as choices, for the campaign model.
CAMPAIGN_KIND_CHOICES = [(kind, MessageKind(kind).label) for kind in CAMPAIGN_KINDS]
# Kinds staff write as campaigns (the admin's form, the API): marketing kinds and service
# announcements. A notice's words come from the policy version or business transition it
# announces (``services.policy_changes``), never from staff.
STAFF_CAMPAIGN_KINDS = [kind for kind in CAMPAIGN_KINDS if not RULES[kind].is_notice]
STAFF_CAMPAIGN_KIND_CHOICES = [(kind, MessageKind(kind).label) for kind in STAFF_CAMPAIGN_KINDS]


def rule_for(kind: str) -> KindRule:
    try:
        return RULES[kind]
    except KeyError:
        raise ValueError(f"Unknown message kind {kind!r}.") from None
