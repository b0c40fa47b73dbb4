"""check_consent: the current table rebuilt from the ledger, differences reported and fixed."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from consent.models import ConsentEvent, CurrentConsent, Purpose
from consent.services import ConsentSource, grant_consent, record_decisions, withdraw_consent


@pytest.fixture
def people(make_user):
    """Ann: newsletter granted then withdrawn, special offers granted. Bob: newsletter granted."""
    ann, bob = make_user("ann@example.com"), make_user("bob@example.com")
    record_decisions(
        subject=ann, choices={"newsletter": True, "special_offers": True}, source=ConsentSource.API
    )
    withdraw_consent(subject=ann, purpose="newsletter", source=ConsentSource.UNSUBSCRIBE_LINK)
    grant_consent(subject=bob, purpose="newsletter", source=ConsentSource.SIGNUP_FORM)
    return ann, bob


def check(*args: str) -> str:
    out = io.StringIO()
    call_command("check_consent", *args, stdout=out)
    return out.getvalue()


def check_fails(*args: str) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("check_consent", *args, stdout=out)
    return out.getvalue(), str(raised.value)


def current(subject, code: str) -> CurrentConsent:
    return CurrentConsent.objects.get(subject=subject, purpose__code=code)


def ledger_snapshot() -> list[tuple]:
    return list(ConsentEvent.objects.order_by("id").values_list())


def current_snapshot() -> set[tuple]:
    return set(
        CurrentConsent.objects.values_list(
            "subject_id", "purpose_id", "granted", "legal_basis", "event_id"
        )
    )


pytestmark = pytest.mark.django_db


def test_a_consistent_current_table_passes(people):
    assert "matches the ledger (3 rows)" in check()


def test_an_empty_database_passes():
    assert "matches the ledger (0 rows)" in check()


def test_a_deleted_current_row_is_reported_missing(people):
    ann, _ = people
    row = current(ann, "special_offers")
    CurrentConsent.objects.filter(pk=row.pk).delete()

    out, error = check_fails()

    assert (
        f"missing: subject {ann.pk}, purpose special_offers: the ledger says granted "
        f"(event {row.event_id}) but there is no current row"
    ) in out
    assert error.startswith("1 difference(s)")
    assert "--fix" in error


def test_a_flipped_current_row_is_reported_wrong(people):
    _, bob = people
    row = current(bob, "newsletter")
    CurrentConsent.objects.filter(pk=row.pk).update(granted=False, legal_basis="soft_opt_in")

    out, _ = check_fails()

    assert (
        f"wrong: subject {bob.pk}, purpose newsletter: current row {row.pk} says withdrawn "
        f"(soft_opt_in, event {row.event_id}); the ledger says granted (consent, event "
        f"{row.event_id})"
    ) in out


def test_a_current_row_pointing_at_an_older_event_is_reported_wrong(people):
    ann, _ = people
    grant, withdrawal = ConsentEvent.objects.filter(
        subject=ann, purpose__code="newsletter"
    ).order_by("id")
    CurrentConsent.objects.filter(event=withdrawal).update(event=grant, granted=True)

    out, _ = check_fails()

    assert f"the ledger says withdrawn (consent, event {withdrawal.pk})" in out
    assert out.count("wrong:") == 1


def test_a_current_row_without_any_ledger_event_is_reported_extra(people):
    ann, bob = people
    old_grant = ConsentEvent.objects.filter(subject=ann, purpose__code="newsletter").earliest("id")
    extra = CurrentConsent.objects.create(
        subject=bob,
        purpose=Purpose.objects.get(code="surveys"),
        granted=True,
        legal_basis="consent",
        event=old_grant,
        updated_at=old_grant.occurred_at,
    )

    out, _ = check_fails()

    assert (
        f"extra: subject {bob.pk}, purpose surveys: current row {extra.pk} says granted "
        f"(event {old_grant.pk}) but the ledger has no event"
    ) in out


def test_fix_corrects_every_kind_of_difference_and_never_touches_the_ledger(people, make_user):
    ann, bob = people
    carol = make_user("carol@example.com")
    grant_consent(subject=carol, purpose="surveys", source=ConsentSource.API)
    expected, ledger = current_snapshot(), ledger_snapshot()
    old_grant = ConsentEvent.objects.filter(subject=ann, purpose__code="newsletter").earliest("id")
    # given: one row missing, one flipped, one extra
    CurrentConsent.objects.filter(subject=ann, purpose__code="special_offers").delete()
    CurrentConsent.objects.filter(subject=bob).update(granted=False)
    CurrentConsent.objects.create(
        subject=carol,
        purpose=Purpose.objects.get(code="partner_photo"),
        granted=True,
        legal_basis="consent",
        event=old_grant,
        updated_at=old_grant.occurred_at,
    )

    out = check("--fix")

    assert out.count("fixed:") == 3
    assert "added the current row, granted" in out
    assert f"subject {bob.pk}, purpose newsletter: current row" in out
    assert "now granted (consent" in out
    assert f"subject {carol.pk}, purpose partner_photo: removed current row" in out
    assert "Fixed 3 difference(s)." in out
    assert current_snapshot() == expected
    assert ledger_snapshot() == ledger
    assert "matches the ledger (4 rows)" in check()


def test_fix_restores_the_updated_at_of_the_decision(people):
    ann, _ = people
    row = current(ann, "special_offers")
    CurrentConsent.objects.filter(pk=row.pk).delete()

    check("--fix")

    restored = current(ann, "special_offers")
    assert restored.updated_at == restored.event.occurred_at
    assert restored.event_id == row.event_id


def test_fix_untangles_a_row_holding_another_persons_event(people):
    ann, bob = people
    expected = current_snapshot()
    bobs_event = current(bob, "newsletter").event_id
    # given: Bob's row is gone and Ann's newsletter row points at Bob's event
    CurrentConsent.objects.filter(subject=bob).delete()
    CurrentConsent.objects.filter(subject=ann, purpose__code="newsletter").update(
        event_id=bobs_event, granted=True
    )

    report, _ = check_fails()
    out = check("--fix")

    assert report.count("wrong:") == 1 and report.count("missing:") == 1
    assert "Fixed 2 difference(s)." in out
    assert current_snapshot() == expected


def test_the_check_streams_in_small_chunks_across_many_subjects(make_user):
    users = [make_user(f"reader{i}@example.com") for i in range(6)]
    for user in users:
        record_decisions(
            subject=user,
            choices={"newsletter": True, "surveys": True},
            source=ConsentSource.API,
        )
        withdraw_consent(subject=user, purpose="surveys", source=ConsentSource.API)
    CurrentConsent.objects.filter(subject__in=users[1::2], purpose__code="surveys").update(
        granted=True
    )

    out, error = check_fails("--chunk-size", "3")

    assert out.count("wrong:") == 3
    assert error.startswith("3 difference(s)")
    assert "Fixed 3 difference(s)." in check("--fix", "--chunk-size", "3")
    assert "matches the ledger (12 rows)" in check("--chunk-size", "3")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_check_reads_one_snapshot_and_fixes(make_user):
    ann = make_user("ann@example.com")
    grant_consent(subject=ann, purpose="newsletter", source=ConsentSource.API)
    CurrentConsent.objects.filter(subject=ann).delete()

    out, _ = check_fails()
    fixed = check("--fix")

    assert "missing:" in out
    assert "Fixed 1 difference(s)." in fixed
    assert "matches the ledger (1 rows)" in check()
