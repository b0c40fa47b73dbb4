"""When a business transition takes effect, the transfer of customer data to the counterparty
is recorded as disclosures (the policy's "Business Transitions" clause), once, in batches, by
a periodic task; each person sees it on ``/my-data/``."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from communications.models import BusinessTransition
from communications.services.policy_changes import record_business_transition
from sharing.models import Disclosure, ThirdParty, ThirdPartyChange
from sharing.services import PartyDetails, change_third_party
from sharing.services.transfers import (
    TransferError,
    record_business_transfers,
    resume_business_transfer,
)
from sharing.tasks import record_business_transfers_task
from sharing.transfer_models import BusinessTransfer
from tests.sharing.conftest import staff_client

pytestmark = pytest.mark.django_db
COUNTERPARTY = "Big Camera plc"


def transition(actor, *, counterparty: str = COUNTERPARTY, in_effect: bool = True):
    """A transition recorded through the service (announced today, effective in 30 days);
    ``in_effect``: its 30 days have passed (its dates moved back, as time would)."""
    today = timezone.localdate()
    recorded = record_business_transition(
        actor=actor,
        kind="acquisition",
        counterparty=counterparty,
        description=f"{counterparty} acquires Jessops.",
        announced_on=today,
        effective_on=today + datetime.timedelta(days=30),
    )
    if in_effect:
        BusinessTransition.objects.filter(pk=recorded.pk).update(
            announced_on=today - datetime.timedelta(days=30), effective_on=today
        )
        recorded.refresh_from_db()
    return recorded


@pytest.fixture
def customers(make_user):
    return [make_user(f"customer{n}@example.com") for n in range(5)]


def test_a_transition_in_effect_discloses_every_open_customer_to_the_new_counterparty(
    officer, customers
):
    recorded = transition(officer)

    run = record_business_transfers(batch_size=2)

    assert (run.started, run.disclosed, run.more) == (1, 5, False)
    party = ThirdParty.objects.get(name=COUNTERPARTY)
    assert party.role == "controller"
    assert party.purposes == ["business_transfer"]
    assert party.active_from == recorded.effective_on
    registration = ThirdPartyChange.objects.get(party=party)
    assert registration.changed_by == officer
    assert f"business transition {recorded.pk}" in registration.reason
    rows = Disclosure.objects.filter(party=party)
    assert sorted(rows.values_list("person_id", flat=True)) == [c.pk for c in customers]
    for row in rows:
        assert (row.purpose, row.legal_basis, row.actor) == (
            "business_transfer",
            "legitimate_interests",
            officer,
        )
        assert row.reference.startswith(f"business transition {recorded.pk}: acquisition")
        assert row.categories == party.categories
    transfer = BusinessTransfer.objects.get()
    assert (transfer.state, transfer.people) == ("completed", 5)
    assert transfer.completed_at is not None


def test_staff_and_closed_accounts_are_left_out(officer, customers):
    from accounts.services.privacy import deactivate_account

    deactivate_account(user=customers[0], actor=customers[0])
    transition(officer)

    record_business_transfers()

    people = set(Disclosure.objects.values_list("person_id", flat=True))
    assert people == {c.pk for c in customers[1:]}
    assert officer.pk not in people


def test_a_second_run_records_nothing_again(officer, customers):
    transition(officer)
    record_business_transfers()
    before = Disclosure.objects.count()

    run = record_business_transfers()

    assert (run.started, run.disclosed) == (0, 0)
    assert Disclosure.objects.count() == before
    assert BusinessTransfer.objects.count() == 1


def test_a_transition_not_yet_in_effect_transfers_nothing(officer, customers):
    transition(officer, in_effect=False)

    run = record_business_transfers()

    assert (run.started, run.disclosed) == (0, 0)
    assert not Disclosure.objects.exists()
    assert not ThirdParty.objects.filter(name=COUNTERPARTY).exists()


def test_a_run_out_of_time_says_so_and_the_next_carries_on(officer, customers):
    transition(officer)

    first = record_business_transfers(batch_size=2, time_budget=0)
    assert (first.started, first.disclosed, first.more) == (1, 0, True)
    second = record_business_transfers(batch_size=2)

    assert (second.disclosed, second.more) == (5, False)
    assert Disclosure.objects.count() == 5


def test_accounts_opened_after_the_transfer_started_are_not_part_of_it(
    officer, customers, make_user
):
    transition(officer)
    record_business_transfers(time_budget=0)  # started, nothing recorded yet
    newcomer = make_user("new@example.com")

    record_business_transfers()

    assert not Disclosure.objects.filter(person=newcomer).exists()
    assert Disclosure.objects.count() == 5


def test_a_counterparty_already_in_the_register_is_used_as_it_stands(officer, customers):
    transition(officer, counterparty="PARCELFORCE")

    record_business_transfers()

    transfer = BusinessTransfer.objects.get()
    assert transfer.party.name == "Parcelforce"
    # the register does not list the business transfer among Parcelforce's purposes
    assert transfer.state == "blocked"
    assert "purpose_not_registered" in transfer.blocked_reason
    assert not Disclosure.objects.exists()


def test_a_blocked_transfer_is_resumed_by_staff_with_the_permission(officer, customers, make_user):
    # given a transfer blocked because the one who recorded the transition left the staff
    recorded = transition(officer)
    officer.is_staff = False
    officer.save(update_fields=["is_staff"])
    record_business_transfers()
    transfer = BusinessTransfer.objects.get(transition=recorded)
    assert transfer.state == "blocked"
    assert "actor_not_staff" in transfer.blocked_reason
    # when someone without the permission tries, nothing changes
    clerk = make_user("clerk@jessops.example", is_staff=True)
    with pytest.raises(TransferError):
        resume_business_transfer(transfer=transfer, actor=clerk)
    # and when a Privacy Officer resumes it, the next run records it in their name
    privacy_officer = make_user("po@jessops.example", is_staff=True)
    privacy_officer.user_permissions.add(Permission.objects.get(codename="change_businesstransfer"))
    resume_business_transfer(transfer=transfer, actor=privacy_officer)
    record_business_transfers()

    transfer.refresh_from_db()
    assert transfer.state == "completed"
    assert set(Disclosure.objects.values_list("actor_id", flat=True)) == {privacy_officer.pk}
    assert Disclosure.objects.count() == 5 + 1  # the former member of staff is a customer now


def test_the_transfer_sends_what_the_register_allows_the_party_when_each_batch_goes(
    officer, customers
):
    transition(officer)
    record_business_transfers(time_budget=0)  # started: the counterparty is registered
    party = ThirdParty.objects.get(name=COUNTERPARTY)
    details = PartyDetails.of(party)
    change_third_party(
        party=party,
        details=PartyDetails(**{**details.__dict__, "categories": ["name", "email"]}),
        actor=officer,
        reason="The agreement transfers names and email addresses only.",
    )

    record_business_transfers()

    kinds = set(map(tuple, Disclosure.objects.values_list("categories", flat=True)))
    assert kinds == {("name", "email")}
    assert BusinessTransfer.objects.get().state == "completed"


def test_each_person_sees_the_transfer_on_my_data(officer, customers):
    transition(officer)
    record_business_transfers()
    client = Client()
    client.force_login(customers[0], backend="django.contrib.auth.backends.ModelBackend")

    page = client.get("/my-data/").content.decode()

    assert COUNTERPARTY in page
    assert "Transferring the business to a new owner" in page


def test_the_admin_lists_transfers_and_resumes_a_blocked_one(officer, customers, superuser_client):
    recorded = transition(officer, counterparty="Parcelforce")
    record_business_transfers()
    transfer = BusinessTransfer.objects.get(transition=recorded)

    listing = superuser_client.get("/admin/sharing/businesstransfer/")
    assert listing.status_code == 200
    assert "Blocked" in listing.content.decode()
    superuser_client.post(
        "/admin/sharing/businesstransfer/",
        {"action": "resume_action", "_selected_action": [transfer.pk]},
    )

    transfer.refresh_from_db()
    assert transfer.state == "in_progress"
    assert transfer.authorised_by.email == "root@jessops.example"


def test_staff_without_the_view_permission_do_not_see_transfers(make_user):
    clerk = make_user("clerk@jessops.example", is_staff=True)

    assert staff_client(clerk).get("/admin/sharing/businesstransfer/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_record_each_person_once(officer, make_user):
    import threading

    from django.db import connection

    customers = [make_user(f"c{n}@example.com") for n in range(40)]
    transition(officer)
    barrier, errors = threading.Barrier(2), []

    def run():
        try:
            barrier.wait()
            record_business_transfers(batch_size=3)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    people = list(Disclosure.objects.values_list("person_id", flat=True))
    assert sorted(people) == [c.pk for c in customers]
    transfer = BusinessTransfer.objects.get()
    assert (transfer.state, transfer.people) == ("completed", 40)


# --- The task, through a real worker ---------------------------------------------------------


@pytest.mark.worker
def test_the_periodic_task_records_the_transfer_on_a_worker(celery_worker, officer, make_user):
    customers = [make_user(f"worker{n}@example.com") for n in range(3)]
    transition(officer)

    result = record_business_transfers_task.delay().get(timeout=60)

    assert result == {"started": 1, "disclosed": 3, "more": False}
    assert sorted(Disclosure.objects.values_list("person_id", flat=True)) == [
        c.pk for c in customers
    ]


def test_the_schedule_runs_the_task_every_quarter_of_an_hour():
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    # A transactional test before this one may have emptied the table the migration filled.
    importlib.import_module("sharing.migrations.0007_beat_business_transfers").create(apps, None)

    job = PeriodicTask.objects.get(name="Record business transfers")
    assert (job.task, job.enabled, job.interval.every) == (
        "sharing.record_business_transfers",
        True,
        900,
    )
