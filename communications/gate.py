"""The one gate every email passes: may we send kind K to this person?

``may_send`` answers for one recipient, ``gate_batch`` for a batch of a campaign; both apply
the same rules (``gate_batch`` is the implementation, ``may_send`` a batch of one), in this
order:

1. No account (deleted, or never had one): only kinds that go to a bare address
   (double opt-in confirmation, referral) may go.
2. A deactivated account gets nothing, service announcements included.
3. A suppressed address (hard bounce, complaint, erasure ...) gets nothing.
4. An address still waiting for its verification link to be followed (signed up, never
   confirmed: perhaps someone else's address, mistyped) gets no marketing and no service
   mail; only the transactional kinds, the welcome email with the link among them. An account
   with no pending verification (a newsletter subscriber who confirmed by double opt-in, a
   customer created by the shop's systems) is not held back, nor one whose address's owner
   followed a newsletter confirmation link sent to it (the same proof).
5. Marketing kinds need current consent for their purpose, given under the version that
   introduced it or later; service kinds go to every active account; notices go to their
   audience (a practice change or business transition to people opted in to
   communications, a use change to everyone not opted out of all communication), asked
   again at send time so an opt-out between queueing and sending is honoured;
   transactional kinds go to the account whose action caused them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from allauth.account.models import EmailAddress

from consent.selectors import confirmed_by_double_opt_in, usable_consents_by_code
from privacy_site.auth_user import AuthUser

from .addresses import address_hash
from .audiences import in_audience
from .kinds import Category, NoticeAudience, rule_for
from .models import Delivery, Suppression

Status = Delivery.Status


@dataclass(frozen=True)
class SendDecision:
    allowed: bool
    # The status a delivery row takes: queued when allowed, else why it was not sent.
    status: str
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = SendDecision(True, Status.QUEUED)
NO_ACCOUNT = SendDecision(False, Status.SKIPPED_INACTIVE, "no account")
INACTIVE = SendDecision(False, Status.SKIPPED_INACTIVE, "account deactivated")
SUPPRESSED = SendDecision(False, Status.SUPPRESSED, "address suppressed")
UNVERIFIED = SendDecision(False, Status.SKIPPED_UNVERIFIED, "address not verified yet")
NO_CONSENT = SendDecision(False, Status.SKIPPED_NO_CONSENT, "no current consent for the purpose")
NOT_IN_AUDIENCE = {
    NoticeAudience.OPTED_IN: SendDecision(
        False, Status.SKIPPED_AUDIENCE, "not opted in to communications"
    ),
    NoticeAudience.NOT_OPTED_OUT: SendDecision(
        False, Status.SKIPPED_AUDIENCE, "opted out of all communication"
    ),
}


def may_send(kind: str, user: AuthUser | None, *, email: str = "") -> SendDecision:
    """Whether ``kind`` may go to ``user`` (or, for address-only kinds, to ``email``).

    ``email`` overrides the account's address (a transactional message written to the address
    it was about); the suppression check applies to whichever address the message goes to.
    """
    rule = rule_for(kind)
    if user is None:
        if not rule.to_address or not email:
            return NO_ACCOUNT
        suppressed = suppressed_hashes([address_hash(email)])
        return SUPPRESSED if suppressed else ALLOWED
    return gate_batch(kind, [user], emails={user.pk: email} if email else None)[user.pk]


def gate_batch(
    kind: str,
    users: Sequence[AuthUser],
    *,
    emails: dict[int, str] | None = None,
) -> dict[int, SendDecision]:
    """The decision for each user, by id, in a few queries whatever the batch size."""
    rule = rule_for(kind)
    emails = emails or {}
    decisions: dict[int, SendDecision] = {}
    candidates = []
    for user in users:
        if not user.is_active:
            decisions[user.pk] = INACTIVE
        else:
            candidates.append(user)
    hashes = {user.pk: address_hash(emails.get(user.pk) or user.email) for user in candidates}
    suppressed = suppressed_hashes(hashes.values())
    unverified: set[int] = set()
    if rule.category is not Category.TRANSACTIONAL and candidates:
        unverified = _awaiting_verification(candidates)
    consenting: set[int] = set()
    if rule.category is Category.MARKETING and candidates:
        assert rule.purpose is not None, f"marketing kind {kind} names no purpose"
        consenting = set(
            usable_consents_by_code(rule.purpose)
            .filter(subject_id__in=[user.pk for user in candidates])
            .values_list("subject_id", flat=True)
        )
    reached: set[int] = set()
    if rule.category is Category.NOTICE and candidates:
        assert rule.audience is not None, f"notice kind {kind} names no audience"
        reached = in_audience(rule.audience, candidates)
    for user in candidates:
        if hashes[user.pk] in suppressed:
            decisions[user.pk] = SUPPRESSED
        elif user.pk in unverified:
            decisions[user.pk] = UNVERIFIED
        elif rule.category is Category.MARKETING and user.pk not in consenting:
            decisions[user.pk] = NO_CONSENT
        elif rule.category is Category.NOTICE and user.pk not in reached:
            assert rule.audience is not None
            decisions[user.pk] = NOT_IN_AUDIENCE[rule.audience]
        else:
            decisions[user.pk] = ALLOWED
    return decisions


def _awaiting_verification(users: Sequence[AuthUser]) -> set[int]:
    """Users whose current address has a verification pending (allauth's unverified row),
    unless its owner followed a newsletter confirmation link sent to it: that click proved
    the mailbox theirs as the verification link would (it does not let anyone log in)."""
    addresses = {user.pk: user.email.lower() for user in users}
    pending = {
        user_id
        for user_id, email in EmailAddress.objects.filter(
            user_id__in=list(addresses), verified=False
        ).values_list("user_id", "email")
        if email.lower() == addresses[user_id]
    }
    return pending - confirmed_by_double_opt_in(pending)


def suppressed_hashes(hashes: Iterable[str]) -> set[str]:
    hashes = list(hashes)
    if not hashes:
        return set()
    return set(
        Suppression.objects.filter(address_hash__in=hashes).values_list("address_hash", flat=True)
    )
