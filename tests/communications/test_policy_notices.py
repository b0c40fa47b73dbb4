"""Notices of a policy change: each change type reaches exactly its audience, asked again at
send time (docs/COMMUNICATIONS.md, "Notices of a policy change")."""

from __future__ import annotations

from communications.gate import gate_batch, may_send
from communications.kinds import MessageKind
from communications.models import Delivery
from consent.services import ConsentSource, grant_consent, withdraw_all_marketing
from tests.communications.people import EMAILED, names

Status = Delivery.Status
PRACTICE = MessageKind.POLICY_CHANGE
USE = MessageKind.POLICY_USE_CHANGE


def allowed(kind: str, people: dict) -> set[str]:
    decisions = gate_batch(kind, list(people.values()))
    return names(people, {pk for pk, decision in decisions.items() if decision})


def test_a_practice_change_notice_reaches_only_people_opted_in_and_not_gone(people):
    assert allowed(PRACTICE, people) == EMAILED["practice_change"]
    assert allowed(MessageKind.BUSINESS_TRANSITION, people) == EMAILED["practice_change"]


def test_a_use_change_notice_reaches_everyone_not_gone_and_not_opted_out_of_all(people):
    assert allowed(USE, people) == EMAILED["use_change"]


def test_a_policy_change_notice_never_reaches_someone_opted_out_of_everything(db, make_user):
    # the bug: policy_change was a service kind, so it reached every active account
    ann = make_user("ann@example.com")
    grant_consent(subject=ann, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    withdraw_all_marketing(subject=ann, source=ConsentSource.PREFERENCE_CENTRE)

    for kind in (PRACTICE, USE, MessageKind.BUSINESS_TRANSITION):
        decision = may_send(kind, ann)
        assert not decision, kind
        assert decision.status == Status.SKIPPED_AUDIENCE
    assert may_send(PRACTICE, ann).reason == "not opted in to communications"
    assert may_send(USE, ann).reason == "opted out of all communication"


def test_the_single_gate_agrees_with_the_batch_gate(people):
    for kind in (PRACTICE, USE):
        batch = gate_batch(kind, list(people.values()))
        for user in people.values():
            assert may_send(kind, user).status == batch[user.pk].status
