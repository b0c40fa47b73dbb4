"""Migration 0010 moves each ended Jessops Photo membership's notice to CEWE into a recipient
notification: still to notify, notified by hand (who, when, how), or the erasure notice CEWE
was already given."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.sharing.conftest import CEWE

BEFORE = [("sharing", "0009_beat_aggregate_reports")]
AFTER = [("sharing", "0010_photo_leave_notices")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_each_ended_membership_gets_the_notice_it_was_waiting_for(make_user, officer):
    people = {name: make_user(f"{name}@example.com") for name in ("open", "left", "told", "gone")}
    old = migrate(BEFORE)
    try:
        Membership = old.get_model("sharing", "PhotoServiceMembership")
        Notice = old.get_model("sharing", "RecipientNotification")
        cewe = old.get_model("sharing", "ThirdParty").objects.get(name=CEWE)
        joined = timezone.now() - datetime.timedelta(days=10)
        left = joined + datetime.timedelta(days=1)
        common = {"party": cewe, "joined_at": joined}
        Membership.objects.create(person_id=people["open"].pk, **common)
        waiting = Membership.objects.create(
            person_id=people["left"].pk,
            left_at=left,
            left_because="left",
            leave_notice="to_notify",
            **common,
        )
        told = Membership.objects.create(
            person_id=people["told"].pk,
            left_at=left,
            left_because="left",
            leave_notice="notified",
            notified_at=left + datetime.timedelta(hours=2),
            notified_by_id=officer.pk,
            notice_detail="CEWE partner portal",
            **common,
        )
        erasure = Notice.objects.create(
            person_id=people["gone"].pk,
            party=cewe,
            event="erasure",
            categories=["name", "email"],
            occurred_at=left,
        )
        Membership.objects.create(
            person_id=people["gone"].pk,
            left_at=left,
            left_because="erasure",
            leave_notice="to_notify",
            **common,
        )

        new = migrate(AFTER)

        Membership = new.get_model("sharing", "PhotoServiceMembership")
        by_person = {
            m.person_id: m for m in Membership.objects.select_related("leave_notification")
        }
        assert by_person[people["open"].pk].leave_notification is None
        notice = by_person[people["left"].pk].leave_notification
        assert (notice.event, notice.state, notice.method) == ("service_ended", "to_notify", "")
        assert notice.references == [f"Jessops Photo membership {waiting.pk}"]
        assert notice.occurred_at == left
        notice = by_person[people["told"].pk].leave_notification
        assert (notice.state, notice.notified_by_id, notice.result) == (
            "notified",
            officer.pk,
            "CEWE partner portal",
        )
        assert notice.notified_at == told.notified_at
        assert by_person[people["gone"].pk].leave_notification_id == erasure.pk
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
