"""A published policy version, and the draft it came from, can't be rewritten or deleted: the
database refuses it (PostgreSQL triggers), whatever path the statement comes from."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from consent.models import PolicyDraft, PolicyVersion
from consent.services import current_policy_version, publish_policy_draft, save_policy_draft

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers are PostgreSQL's"),
]


@pytest.fixture
def officer(make_user):
    return make_user("officer@jessops.example", is_staff=True)


@pytest.fixture
def published(officer) -> PolicyDraft:
    draft = save_policy_draft(
        actor=officer, text="Version two.", summary="Clearer words.", change_type="editorial"
    )
    publish_policy_draft(draft=draft, actor=officer)
    draft.refresh_from_db()
    return draft


def refused(statement: str, params: list) -> None:
    with (
        pytest.raises(DatabaseError, match="unchangeable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_policyversion SET text = 'Rewritten.' WHERE number = %s",
        "UPDATE consent_policyversion SET summary = 'Nothing changed.' WHERE number = %s",
        "UPDATE consent_policyversion SET change_type = 'use_change' WHERE number = %s",
        "UPDATE consent_policyversion SET effective_date = '2000-01-01' WHERE number = %s",
        "UPDATE consent_policyversion SET number = 99 WHERE number = %s",
        "DELETE FROM consent_policyversion WHERE number = %s",
    ],
    ids=["text", "summary", "change-type", "effective-date", "number", "delete"],
)
def test_the_database_refuses_to_rewrite_or_delete_a_published_version(statement):
    # given version 1, from the migrations
    first = PolicyVersion.objects.get(number=1)
    before = PolicyVersion.objects.filter(number=1).values().get()

    refused(statement, [first.number])

    assert PolicyVersion.objects.filter(number=1).values().get() == before


def test_the_orm_cannot_change_a_version_either(published):
    version = published.published_version

    with pytest.raises(DatabaseError), transaction.atomic():
        PolicyVersion.objects.filter(pk=version.pk).update(text="Rewritten.")
    version.text = "Rewritten."
    with pytest.raises(DatabaseError), transaction.atomic():
        version.save()

    version.refresh_from_db()
    assert version.text == "Version two."


def test_an_older_version_cannot_be_put_back_in_force(published):
    current = published.published_version

    with pytest.raises(DatabaseError), transaction.atomic():
        PolicyVersion.objects.filter(is_current=True).update(is_current=False)
        PolicyVersion.objects.filter(number=1).update(is_current=True)

    assert current_policy_version() == current


def test_publishing_still_retires_the_version_in_force(officer, published):
    # the one update a version gets: no longer current once the next one is published
    nxt = save_policy_draft(actor=officer, text="Three.", summary="More.", change_type="editorial")

    third = publish_policy_draft(draft=nxt, actor=officer)

    assert current_policy_version() == third
    assert list(PolicyVersion.objects.filter(is_current=True)) == [third]
    published.published_version.refresh_from_db()
    assert published.published_version.is_current is False


def test_the_database_refuses_to_change_or_delete_a_published_draft(published):
    refused("UPDATE consent_policydraft SET text = 'Rewritten.' WHERE id = %s", [published.pk])
    refused(
        "UPDATE consent_policydraft SET published_version_id = NULL WHERE id = %s",
        [published.pk],
    )
    refused("DELETE FROM consent_policydraft WHERE id = %s", [published.pk])

    published.refresh_from_db()
    assert published.text == "Version two." and published.published_version_id


def test_a_draft_not_yet_published_may_still_change_or_go(officer):
    draft = save_policy_draft(actor=officer, text="One.", summary="S.", change_type="editorial")

    PolicyDraft.objects.filter(pk=draft.pk).update(text="Two.")
    assert PolicyDraft.objects.get(pk=draft.pk).text == "Two."
    PolicyDraft.objects.filter(pk=draft.pk).delete()
    assert not PolicyDraft.objects.filter(pk=draft.pk).exists()
