"""The one gate: every kind, every rule, and the batch form agreeing with the single one."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from communications.gate import gate_batch, may_send
from communications.kinds import CAMPAIGN_KINDS, RULES, Category, MessageKind
from communications.models import Delivery
from communications.services import suppress_address
from consent.models import Purpose
from consent.services import ConsentSource, grant_consent, withdraw_consent

Status = Delivery.Status
MARKETING = {
    MessageKind.NEWSLETTER: Purpose.NEWSLETTER,
    MessageKind.SPECIAL_OFFER: Purpose.SPECIAL_OFFERS,
    MessageKind.SURVEY_INVITATION: Purpose.SURVEYS,
    MessageKind.PARTNER_OFFER: Purpose.PARTNER_PHOTO,
}
SERVICE = {MessageKind.SERVICE_ANNOUNCEMENT}
# Notices of a policy change or business transition: their audience is tested in
# test_policy_notices.py.
NOTICE = {
    MessageKind.POLICY_CHANGE,
    MessageKind.POLICY_USE_CHANGE,
    MessageKind.BUSINESS_TRANSITION,
}
TRANSACTIONAL = {
    MessageKind.WELCOME,
    MessageKind.CONSENT_RECEIPT,
    MessageKind.CONTEST_WINNER,
    MessageKind.CAMPAIGN_TEST,
    MessageKind.ACCOUNT_SECURITY,
}
TO_ADDRESS = {
    MessageKind.OPT_IN_CONFIRMATION,
    MessageKind.REFERRAL,
    MessageKind.ERASURE_CONFIRMATION,
    MessageKind.RECIPIENT_NOTICE,
}


def test_every_kind_has_exactly_one_rule_and_the_expected_category():
    assert set(RULES) == set(MessageKind.values)
    assert set(MARKETING) | SERVICE | NOTICE | TRANSACTIONAL | TO_ADDRESS == set(MessageKind.values)
    for kind, purpose in MARKETING.items():
        assert RULES[kind].category is Category.MARKETING
        assert RULES[kind].purpose == purpose
    for kind in SERVICE:
        assert RULES[kind].category is Category.SERVICE
        assert RULES[kind].purpose == Purpose.SERVICE_ANNOUNCEMENTS
    for kind in NOTICE:
        assert RULES[kind].category is Category.NOTICE
        assert RULES[kind].audience is not None
    for kind in TRANSACTIONAL | TO_ADDRESS:
        assert RULES[kind].category is Category.TRANSACTIONAL
    assert {kind for kind, rule in RULES.items() if rule.to_address} == TO_ADDRESS


def test_marketing_purposes_are_optional_and_service_ones_mandatory(db):
    for purpose in MARKETING.values():
        assert Purpose.objects.get(code=purpose).is_optional
    assert not Purpose.objects.get(code=Purpose.SERVICE_ANNOUNCEMENTS).is_optional


def test_campaigns_can_send_marketing_service_and_notice_kinds_only():
    assert set(CAMPAIGN_KINDS) == set(MARKETING) | SERVICE | NOTICE


@pytest.mark.parametrize("kind", sorted(MARKETING))
def test_marketing_needs_current_consent_for_its_own_purpose(db, make_user, kind):
    user = make_user("ann@example.com")
    other_purposes = [p for k, p in MARKETING.items() if k != kind]
    for purpose in other_purposes:
        grant_consent(subject=user, purpose=purpose, source=ConsentSource.API)

    # given consent to every other purpose but this one
    assert may_send(kind, user).status == Status.SKIPPED_NO_CONSENT

    grant_consent(subject=user, purpose=MARKETING[kind], source=ConsentSource.API)
    assert may_send(kind, user)

    withdraw_consent(subject=user, purpose=MARKETING[kind], source=ConsentSource.API)
    decision = may_send(kind, user)
    assert not decision
    assert decision.status == Status.SKIPPED_NO_CONSENT


@pytest.mark.parametrize("kind", sorted(SERVICE | TRANSACTIONAL))
def test_service_and_transactional_kinds_go_to_every_active_account_without_consent(
    db, make_user, kind
):
    user = make_user("ann@example.com")

    assert may_send(kind, user)


@pytest.mark.parametrize("kind", sorted(MessageKind.values))
def test_a_deactivated_account_gets_nothing_of_any_kind(db, make_user, kind):
    user = make_user("ann@example.com", consents=MARKETING.values())
    user.is_active = False
    user.save(update_fields=["is_active"])

    decision = may_send(kind, user)

    assert not decision
    assert decision.status == Status.SKIPPED_INACTIVE


@pytest.mark.parametrize("kind", sorted(MessageKind.values))
def test_a_suppressed_address_gets_nothing_of_any_kind(db, make_user, kind):
    user = make_user("ann@example.com", consents=MARKETING.values())
    suppress_address("ANN@example.com", reason="hard_bounce")

    decision = (
        may_send(kind, user)
        if kind not in TO_ADDRESS
        else may_send(kind, None, email="ann@example.com")
    )

    assert not decision
    assert decision.status == Status.SUPPRESSED


@pytest.mark.parametrize("kind", sorted(set(MessageKind.values) - TO_ADDRESS))
def test_kinds_for_an_account_never_go_to_a_bare_address(db, kind):
    assert not may_send(kind, None, email="someone@example.com")
    assert not may_send(kind, None)


@pytest.mark.parametrize("kind", sorted(TO_ADDRESS))
def test_address_kinds_go_to_an_unsuppressed_address(db, kind):
    assert may_send(kind, None, email="friend@example.com")
    assert not may_send(kind, None)


def test_a_deleted_account_is_no_recipient(db, make_user):
    # (An account with consent history is erased by pseudonymising, never deleted: the
    # ledger protects it. One that never decided anything can be deleted outright.)
    make_user("ann@example.com").delete()

    assert not may_send(MessageKind.NEWSLETTER, None)
    assert not may_send(MessageKind.SERVICE_ANNOUNCEMENT, None, email="ann@example.com")


def test_the_batch_gate_agrees_with_the_single_gate_for_a_mixed_batch(db, make_user):
    users = [
        make_user(f"user{i}@example.com", consents=[Purpose.NEWSLETTER] if i % 2 else [])
        for i in range(8)
    ]
    users[1].is_active = False
    users[1].save(update_fields=["is_active"])
    suppress_address(users[3].email, reason="complaint")
    users = list(get_user_model().objects.filter(pk__in=[u.pk for u in users]))

    for kind in MessageKind.values:
        if kind in TO_ADDRESS:
            continue
        batch = gate_batch(kind, users)
        assert {pk: d.status for pk, d in batch.items()} == {
            user.pk: may_send(kind, user).status for user in users
        }, kind


def test_the_batch_gate_asks_the_database_three_times_whatever_the_batch_size(
    db, make_user, django_assert_max_num_queries
):
    # suppression, pending verification, consent
    users = [make_user(f"user{i}@example.com") for i in range(50)]

    with django_assert_max_num_queries(3):
        gate_batch(MessageKind.NEWSLETTER, users)


def test_an_unknown_kind_is_an_error_not_a_silent_yes(db, make_user):
    with pytest.raises(ValueError, match="Unknown message kind"):
        may_send("carrier_pigeon", make_user("ann@example.com"))


@pytest.mark.parametrize("kind", sorted(set(MARKETING) | SERVICE | NOTICE))
def test_an_address_never_verified_gets_no_marketing_or_service_mail(db, make_user, kind):
    from allauth.account.models import EmailAddress

    user = make_user("ann@example.com", consents=MARKETING.values())
    address = EmailAddress.objects.create(user=user, email=user.email, verified=False)

    decision = may_send(kind, user)
    assert not decision
    assert decision.status == Status.SKIPPED_UNVERIFIED
    assert not gate_batch(kind, [user])[user.pk]

    address.verified = True
    address.save()
    assert may_send(kind, user)


@pytest.mark.parametrize("kind", sorted(TRANSACTIONAL))
def test_transactional_mail_reaches_an_address_awaiting_verification(db, make_user, kind):
    user = make_user("ann@example.com", verified=False)

    assert may_send(kind, user)


def test_a_pending_new_address_does_not_hold_back_the_verified_one_in_use(db, make_user):
    from allauth.account.models import EmailAddress

    user = make_user("ann@example.com", verified=True)
    EmailAddress.objects.create(user=user, email="new@example.com", verified=False)

    assert may_send(MessageKind.SERVICE_ANNOUNCEMENT, user)
