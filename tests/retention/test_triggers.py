"""The append-only ledgers keep their protection: the database lets through only the exact
change the schedule allows (a cookie choice older than the named cutoff, deleted by the
cookie_choices rule; the network details emptied), and refuses anything else. Legal holds
are never deleted and change once only, when released with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from consent.models import ConsentEvent, CookieConsent
from retention.models import LegalHold
from tests.retention import cases
from tests.retention.cases import person

pytestmark = pytest.mark.django_db


class _Undo(Exception):
    pass


def allowed(*statements: tuple[str, list]) -> bool:
    """Whether the database accepts these statements, run in one savepoint that is then
    rolled back (so settings and changes of one attempt never reach the next)."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute(sql, params)
            raise _Undo
    except _Undo:
        return True
    except DatabaseError as error:
        assert "append-only" in str(error), error
        return False


def named(rule: str, cutoff) -> tuple[str, list]:
    return (
        "SELECT set_config('privacy_site.retention_rule', %s, true),"
        " set_config('privacy_site.retention_cutoff', %s, true)",
        [rule, cutoff.isoformat() if hasattr(cutoff, "isoformat") else cutoff],
    )


def delete_choice(pk: int) -> tuple[str, list]:
    return ("DELETE FROM consent_cookieconsent WHERE id = %s", [pk])


@pytest.fixture
def choices():
    now = timezone.now()
    who = person()
    cutoff = now - timedelta(days=365)
    old = cases._cookie_choice(cutoff - timedelta(minutes=1), who)
    new = cases._cookie_choice(cutoff + timedelta(minutes=1), who)
    return cutoff, old, new


def test_the_cookie_choices_rule_may_delete_a_choice_older_than_its_cutoff(choices):
    cutoff, old, _ = choices
    assert allowed(named("cookie_choices", cutoff), delete_choice(old))


def test_a_choice_newer_than_the_cutoff_cannot_be_deleted(choices):
    cutoff, _, new = choices
    assert not allowed(named("cookie_choices", cutoff), delete_choice(new))


def test_without_the_rule_named_no_choice_can_be_deleted(choices):
    _, old, _ = choices
    assert not allowed(delete_choice(old))
    assert not allowed(named("cookie_choices", ""), delete_choice(old))


def test_another_rules_name_does_not_let_a_choice_be_deleted(choices):
    cutoff, old, _ = choices
    for rule in ("delivery_content", "ledger_network_details", "Cookie_choices"):
        assert not allowed(named(rule, cutoff), delete_choice(old))


def test_a_cutoff_in_the_future_does_not_let_newer_choices_go(choices):
    _, old, new = choices
    future = timezone.now() + timedelta(days=1)
    assert not allowed(named("cookie_choices", future), delete_choice(new))
    assert not allowed(named("cookie_choices", future), delete_choice(old))


@pytest.mark.parametrize(
    "column, value",
    [("analytics", False), ("marketing", True), ("created_at", timezone.now()), ("user_id", None)],
)
def test_no_other_change_to_a_cookie_choice_passes_even_with_the_rule_named(choices, column, value):
    cutoff, old, _ = choices
    sql = f"UPDATE consent_cookieconsent SET {column} = %s WHERE id = %s"  # noqa: S608
    change = (sql, [value, old])
    assert not allowed(named("cookie_choices", cutoff), change)
    assert not allowed(change)


@pytest.fixture
def ledger_row():
    return cases._ledger_row(timezone.now() - timedelta(days=800), person())


@pytest.mark.parametrize(
    "column, value",
    [
        ("granted", False),
        ("wording", "Something else"),
        ("occurred_at", timezone.now()),
        ("source", "staff"),
        ("ip_address", "203.0.113.0"),
        ("user_agent", "Other"),
    ],
)
def test_no_other_change_to_a_consent_decision_passes(ledger_row, column, value):
    sql = f"UPDATE consent_consentevent SET {column} = %s WHERE id = %s"  # noqa: S608
    change = (sql, [value, ledger_row])
    for rule in ("ledger_network_details", "cookie_choices"):
        assert not allowed(named(rule, timezone.now()), change)
    assert not allowed(change)


def test_emptying_the_network_details_is_the_change_a_decision_allows(ledger_row):
    trim = (
        "UPDATE consent_consentevent SET ip_address = NULL, user_agent = '' WHERE id = %s",
        [ledger_row],
    )
    assert allowed(trim)
    also_granted = (
        "UPDATE consent_consentevent SET ip_address = NULL, user_agent = '', granted = false"
        " WHERE id = %s",
        [ledger_row],
    )
    assert not allowed(also_granted)


def test_a_consent_decision_cannot_be_deleted_even_with_a_rule_named(ledger_row):
    delete = ("DELETE FROM consent_consentevent WHERE id = %s", [ledger_row])
    far_future = timezone.now() + timedelta(days=10_000)
    for rule in ("cookie_choices", "ledger_network_details"):
        assert not allowed(named(rule, timezone.now()), delete)
        assert not allowed(named(rule, far_future), delete)
    assert not allowed(delete)
    assert ConsentEvent.objects.filter(pk=ledger_row).exists()


def test_the_orm_refuses_the_same(choices, ledger_row):
    _, old, _ = choices
    with pytest.raises(DatabaseError), transaction.atomic():
        CookieConsent.objects.filter(pk=old).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=ledger_row).update(granted=False)
    assert CookieConsent.objects.filter(pk=old).exists()


# --- Legal holds ---------------------------------------------------------------------------------


@pytest.fixture
def placed(hold):
    return hold(person())


def hold_update(pk: int, assignments: str, params: list) -> tuple[str, list]:
    sql = f"UPDATE retention_legalhold SET {assignments} WHERE id = %s"  # noqa: S608
    return (sql, [*params, pk])


def test_a_hold_cannot_be_deleted(placed):
    assert not allowed(("DELETE FROM retention_legalhold WHERE id = %s", [placed.pk]))
    released = LegalHold.objects.get(pk=placed.pk)
    released_update = hold_update(
        released.pk,
        "released_at = now(), released_by_id = placed_by_id, release_reason = %s",
        ["Settled"],
    )
    assert (
        allowed(released_update, ("DELETE FROM retention_legalhold WHERE id = %s", [placed.pk]))
        is False
    )


@pytest.mark.parametrize(
    "assignments, params",
    [
        ("ends_at = ends_at + interval '1 year'", []),
        ("ends_at = now() + interval '1 day'", []),
        ("reason = %s", ["Something else"]),
        ("placed_at = placed_at - interval '1 day'", []),
        ("person_id = placed_by_id", []),
        # a release must be complete and give its reason
        ("released_at = now()", []),
        ("released_at = now(), released_by_id = placed_by_id", []),
        ("release_reason = %s", ["Settled"]),
        # and change nothing else at the same time
        (
            "released_at = now(), released_by_id = placed_by_id, release_reason = %s,"
            " ends_at = ends_at + interval '1 year'",
            ["Settled"],
        ),
    ],
)
def test_a_hold_in_force_changes_only_by_being_released(placed, assignments, params):
    assert not allowed(hold_update(placed.pk, assignments, params))


def test_a_hold_is_released_once_and_never_changed_after(placed):
    release = hold_update(
        placed.pk,
        "released_at = now(), released_by_id = placed_by_id, release_reason = %s",
        ["Dispute settled"],
    )
    assert allowed(release)
    with connection.cursor() as cursor:
        cursor.execute(*release)
    for assignments, params in [
        ("release_reason = %s", ["Another reason"]),
        ("released_at = now() - interval '1 day'", []),
        ("released_at = NULL, released_by_id = NULL, release_reason = ''", []),
        ("ends_at = ends_at + interval '1 year'", []),
    ]:
        assert not allowed(hold_update(placed.pk, assignments, params))
    assert LegalHold.objects.get(pk=placed.pk).release_reason == "Dispute settled"
