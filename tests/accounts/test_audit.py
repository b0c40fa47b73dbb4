"""The audit trail of personal data: one append-only row per changed field, written with the
change, never with a secret's value."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import Client

from accounts.models import AuditEvent, Profile
from accounts.selectors import audit_events_for
from accounts.services import (
    FieldChange,
    record_changes,
    record_secret_change,
    redact_audit_values_for,
    update_profile,
)
from accounts.services import profile as profile_service

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's"
)


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann")


@pytest.fixture
def audit_row(ann) -> AuditEvent:
    update_profile(user=ann, actor=ann, postcode="sw1a1aa", address_line_1="1 A St", town="X")
    return AuditEvent.objects.get(field="postcode")


@pytest.mark.django_db
def test_rows_are_written_only_for_changed_fields_with_actor_and_values(ann):
    # given
    update_profile(user=ann, actor=ann, first_name="Ann", last_name="Smith", phone="07700900123")
    # when only the phone and the channel change
    update_profile(
        user=ann,
        actor=ann,
        first_name="Ann",
        last_name="Smith",
        phone="07700 900999",
        contact_channel="phone",
    )
    # then
    latest = list(AuditEvent.objects.order_by("id"))[-2:]
    assert [(e.field, e.old_value, e.new_value) for e in latest] == [
        ("phone", "+447700900123", "+447700900999"),
        ("contact_channel", "email", "phone"),
    ]
    assert all(e.actor == ann and e.subject == ann and e.source == "profile_page" for e in latest)
    assert latest[0].change_id == latest[1].change_id
    assert latest[0].occurred_at == latest[1].occurred_at
    first = AuditEvent.objects.order_by("id").first()
    assert first.change_id != latest[0].change_id
    # first_name was passed unchanged: no row for it
    assert not AuditEvent.objects.filter(field="first_name").exists()
    assert AuditEvent.objects.filter(field="last_name", old_value="", new_value="Smith").exists()


@pytest.mark.django_db
def test_nothing_is_written_when_the_input_is_invalid(ann):
    with pytest.raises(Exception, match="postcode"):
        update_profile(user=ann, actor=ann, first_name="Changed", postcode="nonsense")
    assert not AuditEvent.objects.exists()
    ann.refresh_from_db()
    assert ann.first_name == "Ann"


@pytest.mark.django_db
def test_a_failed_audit_write_undoes_the_change(ann, monkeypatch):
    def broken(**kwargs):
        raise IntegrityError("audit down")

    monkeypatch.setattr(profile_service, "record_changes", broken)
    with pytest.raises(IntegrityError):
        update_profile(user=ann, actor=ann, first_name="Changed", phone="07700900123")
    ann.refresh_from_db()
    assert ann.first_name == "Ann"
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_a_password_change_is_recorded_as_changed_without_values(ann):
    with transaction.atomic():
        ann.set_password("another long password")
        ann.save(update_fields=["password"])
        row = record_secret_change(subject=ann, actor=ann, field="password", source="account")
    row.refresh_from_db()
    assert (row.field, row.is_secret, row.old_value, row.new_value) == (
        "password",
        True,
        None,
        None,
    )


@pytest.mark.django_db
def test_secret_values_are_dropped_even_if_a_caller_passes_them(ann):
    with transaction.atomic():
        (row,) = record_changes(
            subject=ann,
            actor=ann,
            changes=[FieldChange("password", "old-hash", "new-hash")],
            source="account",
        )
    row.refresh_from_db()
    assert (row.old_value, row.new_value, row.is_secret) == (None, None, True)


@pytest.mark.django_db
def test_the_database_refuses_a_secret_row_with_values(ann):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.create(
            subject=ann,
            actor=ann,
            change_id="00000000-0000-0000-0000-000000000001",
            field="password",
            is_secret=True,
            old_value="x",
            new_value="y",
            source="account",
            occurred_at="2026-01-01T00:00:00Z",
        )


@pytest.mark.django_db
def test_the_password_page_shows_changed_not_values(ann, client):
    with transaction.atomic():
        record_secret_change(subject=ann, actor=ann, field="password", source="account")
    client.force_login(ann)
    body = " ".join(client.get("/accounts/profile/").content.decode().split())
    assert '<td>Password</td> <td colspan="2">Changed</td>' in body


@pytest.mark.django_db
def test_audit_events_for_returns_only_that_persons_rows(ann, make_user):
    bob = make_user("bob@example.com")
    update_profile(user=ann, actor=ann, phone="07700900123")
    update_profile(user=bob, actor=bob, phone="07700900124")
    assert {e.subject_id for e in audit_events_for(subject=ann)} == {ann.pk}


@on_postgresql
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE accounts_auditevent SET new_value = 'forged' WHERE id = %s",
        "UPDATE accounts_auditevent SET old_value = NULL, new_value = NULL, "
        "values_redacted = TRUE, field = 'phone' WHERE id = %s",
        "DELETE FROM accounts_auditevent WHERE id = %s",
    ],
)
def test_the_database_refuses_to_update_or_delete_audit_rows(audit_row, statement):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [audit_row.pk])
    audit_row.refresh_from_db()
    assert (audit_row.field, audit_row.new_value) == ("postcode", "SW1A 1AA")


@on_postgresql
@pytest.mark.django_db
def test_the_orm_cannot_update_or_delete_audit_rows_either(audit_row):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=audit_row.pk).update(new_value="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=audit_row.pk).delete()
    assert AuditEvent.objects.filter(pk=audit_row.pk, new_value="SW1A 1AA").exists()


@pytest.mark.django_db
def test_erasure_may_redact_the_values_and_keeps_the_rows(ann, audit_row):
    count = AuditEvent.objects.filter(subject=ann).count()
    assert redact_audit_values_for(subject=ann) == count
    rows = AuditEvent.objects.filter(subject=ann)
    assert rows.count() == count
    assert all(r.values_redacted and r.old_value is None and r.new_value is None for r in rows)
    assert {r.field for r in rows} == {"postcode", "address_line_1", "town"}


@pytest.mark.django_db
def test_staff_read_the_audit_trail_in_admin_but_cannot_add_change_or_delete(
    ann, audit_row, make_user
):
    admin = make_user("admin@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    listing = client.get("/admin/accounts/auditevent/")
    assert listing.status_code == 200
    assert "ann@example.com" in listing.content.decode()
    assert client.get("/admin/accounts/auditevent/add/").status_code == 403
    detail = client.get(f"/admin/accounts/auditevent/{audit_row.pk}/change/")
    assert detail.status_code == 200
    assert 'name="new_value"' not in detail.content.decode()
    assert client.post(f"/admin/accounts/auditevent/{audit_row.pk}/delete/").status_code == 403
    user_page = client.get(f"/admin/accounts/user/{ann.pk}/change/")
    assert user_page.status_code == 200
    assert "SW1A 1AA" in user_page.content.decode()  # the profile inline, read-only
    assert 'name="profile-0-postcode"' not in user_page.content.decode()
