"""Article 19 notices sent by a real Celery worker: the email through the outbox to an SMTP
server, the signed POST to an HTTPS endpoint (its signature checked as the party would), a
5xx answered by a retry after the backoff, and an erasure from request to notices."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import transaction

from accounts.services import update_profile
from accounts.services.privacy import request_erasure
from sharing.models import DataCategory, DisclosurePurpose
from sharing.notification_models import NoticeEvent, NoticeMethod, RecipientNotification
from tests.harness.https_receiver import NoticeReceiver
from tests.harness.smtp import SMTPServer
from tests.harness.worker import WorkerProcess
from tests.sharing.conftest import BANK, CEWE, PARCELFORCE, party
from tests.sharing.notices import party_key, set_notification_address, verify_signature

pytestmark = [pytest.mark.worker, pytest.mark.smtp]
State = RecipientNotification.State
KEY = "a-worker-test-notification-signing-key"


@pytest.fixture
def receiver(tmp_path) -> Iterator[NoticeReceiver]:
    server = NoticeReceiver(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def notice_worker(
    celery_worker_session: WorkerProcess, worker_factory, receiver, settings
) -> Iterator[Callable[..., WorkerProcess]]:
    """A worker that trusts the receiver's certificate and signs with ``KEY``, retrying after
    half a second at most, while the session worker stands aside."""
    settings.SHARING_NOTIFICATION_SIGNING_KEY = KEY
    env = {
        "SHARING_NOTIFICATION_CA_BUNDLE": str(receiver.ca_file),
        "SHARING_NOTIFICATION_SIGNING_KEY": KEY,
        "SHARING_NOTIFICATION_RETRY_BACKOFF": "0.5",
    }
    with celery_worker_session.paused():
        yield worker_factory(name="notices", concurrency=2, extra_env=env)


@pytest.fixture
def ann(make_user, officer, disclose, receiver):
    """Ann's order 1001 went to the bank (no address for notices) and to Parcelforce (an
    endpoint), her name and email to CEWE (an address) for photo order P-7."""
    user = make_user("ann@example.com", first_name="Ann")
    set_notification_address(party(PARCELFORCE), officer, url=receiver.url)
    set_notification_address(party(CEWE), officer, email="privacy@cewe.example")
    disclose(user, reference="order 1001")
    disclose(
        user,
        reference="order 1001",
        party=party(PARCELFORCE),
        purpose=DisclosurePurpose.DELIVERY,
    )
    disclose(
        user,
        party=party(CEWE),
        purpose=DisclosurePurpose.PHOTO_SERVICE,
        categories=[DataCategory.NAME, DataCategory.EMAIL],
        reference="photo order P-7",
    )
    return user


def wait_for_state(
    notice: RecipientNotification, state: str, *, timeout: float = 20
) -> RecipientNotification:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        notice.refresh_from_db()
        if notice.state == state:
            return notice
        time.sleep(0.05)
    raise AssertionError(f"notice {notice.pk} still {notice.state}: {notice.result}")


def by_party(**filters) -> dict[str, RecipientNotification]:
    return {
        notice.party.name: notice
        for notice in RecipientNotification.objects.filter(**filters).select_related("party")
    }


def test_a_correction_is_emailed_and_posted_to_the_parties_by_the_worker(
    ann, notice_worker, smtp: SMTPServer, receiver
):
    # when Ann corrects her name, in a committed transaction
    with transaction.atomic():
        update_profile(user=ann, actor=ann, first_name="Annie")

    # then CEWE's notice arrives by email, with its reference and not the new name
    (message,) = smtp.wait_for(1)
    assert message.rcpt_tos == ("privacy@cewe.example",)
    assert "Correction" in message.subject
    assert "photo order P-7" in message.text() and "Annie" not in message.text()
    # and Parcelforce's is posted, signed with its own key
    (request,) = receiver.wait_for(1)
    verify_signature(request, key=party_key(KEY, party(PARCELFORCE).pk))
    body = json.loads(request.body)
    assert (body["type"], body["your_references"], body["categories"]) == (
        "rectification",
        ["order 1001"],
        ["name"],
    )
    # and each notice records how and when
    notices = by_party()
    cewe = wait_for_state(notices[CEWE], State.NOTIFIED)
    assert cewe.method == NoticeMethod.EMAIL and "Email sent" in cewe.result
    parcelforce = wait_for_state(notices[PARCELFORCE], State.NOTIFIED)
    assert parcelforce.method == NoticeMethod.ENDPOINT and parcelforce.result.startswith("HTTP 200")
    assert body["id"] == str(parcelforce.notice_id)
    # the bank has neither: it waits for staff
    assert (notices[BANK].method, notices[BANK].state) == ("", State.TO_NOTIFY)
    # nothing went twice
    time.sleep(0.5)
    assert len(smtp.messages) == 1 and len(receiver.requests) == 1


def test_a_server_error_is_retried_after_the_backoff_and_then_succeeds(
    ann, notice_worker, smtp: SMTPServer, receiver
):
    # given Parcelforce's endpoint fails once
    receiver.answer_next(503)

    # when
    with transaction.atomic():
        update_profile(user=ann, actor=ann, first_name="Annie")

    # then the worker tries again after the backoff, with the same notice
    first, second = receiver.wait_for(2)
    key = party_key(KEY, party(PARCELFORCE).pk)
    verify_signature(first, key=key)
    verify_signature(second, key=key)
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"]
    notice = wait_for_state(by_party()[PARCELFORCE], State.NOTIFIED)
    assert notice.attempts == 2
    assert list(notice.steps.values_list("kind", flat=True)) == [
        "created",
        "temporary_failure",
        "sent",
    ]
    assert "HTTP 503" in notice.steps.get(kind="temporary_failure").detail
    time.sleep(0.5)
    assert len(receiver.requests) == 2


def test_an_erasure_tells_every_recipient_through_the_worker(
    ann, notice_worker, smtp: SMTPServer, receiver
):
    # when Ann deletes her account (the worker erases it, then sends the notices)
    with transaction.atomic():
        request_erasure(user=ann, actor=ann)

    # then her confirmation and CEWE's notice are emailed, Parcelforce's posted
    messages = smtp.wait_for(2)
    cewe_message = next(m for m in messages if m.rcpt_tos == ("privacy@cewe.example",))
    assert "Erasure" in cewe_message.subject and "photo order P-7" in cewe_message.text()
    (request,) = receiver.wait_for(1)
    verify_signature(request, key=party_key(KEY, party(PARCELFORCE).pk))
    assert json.loads(request.body)["type"] == "erasure"
    assert json.loads(request.body)["your_references"] == ["order 1001"]
    notices = by_party(event=NoticeEvent.ERASURE)
    assert set(notices) == {BANK, PARCELFORCE, CEWE}
    wait_for_state(notices[CEWE], State.NOTIFIED)
    wait_for_state(notices[PARCELFORCE], State.NOTIFIED)
    assert notices[BANK].state == State.TO_NOTIFY


# --- Leaving Jessops Photo ----------------------------------------------------------------------


@pytest.fixture
def member(make_user):
    from sharing.services.photo_service import join_photo_service

    user = make_user("member@example.com", first_name="Mo", last_name="Member")
    join_photo_service(person=user)
    return user


def test_leaving_jessops_photo_is_emailed_to_cewe_by_the_worker(
    member, officer, notice_worker, smtp: SMTPServer
):
    from sharing.services.photo_service import leave_photo_service

    set_notification_address(party(CEWE), officer, email="privacy@cewe.example")

    with transaction.atomic():
        membership = leave_photo_service(person=member)

    (message,) = smtp.wait_for(1)
    assert message.rcpt_tos == ("privacy@cewe.example",)
    assert "left the service" in message.subject
    assert f"Jessops Photo membership {membership.pk}" in message.text()
    assert "member@example.com" not in message.text() and "Mo" not in message.text()
    notice = wait_for_state(membership.leave_notification, State.NOTIFIED)
    assert notice.method == NoticeMethod.EMAIL and "Email sent" in notice.result
    membership.refresh_from_db()
    assert membership.party_told_at == notice.notified_at


def test_leaving_jessops_photo_is_posted_signed_to_cewes_endpoint(
    member, officer, notice_worker, receiver
):
    from sharing.services.photo_service import leave_photo_service

    set_notification_address(party(CEWE), officer, url=receiver.url)

    with transaction.atomic():
        membership = leave_photo_service(person=member)

    (request,) = receiver.wait_for(1)
    verify_signature(request, key=party_key(KEY, party(CEWE).pk))
    body = json.loads(request.body)
    assert (body["type"], body["your_references"], body["categories"]) == (
        "service_ended",
        [f"Jessops Photo membership {membership.pk}"],
        ["name", "email"],
    )
    assert "no longer uses the service" in body["action"]
    wait_for_state(membership.leave_notification, State.NOTIFIED)


def test_erasing_a_member_tells_cewe_once_that_their_data_was_erased(
    member, officer, notice_worker, smtp: SMTPServer
):
    from sharing.photo_models import PhotoServiceMembership

    set_notification_address(party(CEWE), officer, email="privacy@cewe.example")

    with transaction.atomic():
        request_erasure(user=member, actor=member)

    # the erasure confirmation to the member and one notice to CEWE: of the erasure
    messages = smtp.wait_for(2)
    to_cewe = [m for m in messages if m.rcpt_tos == ("privacy@cewe.example",)]
    assert len(to_cewe) == 1 and "Erasure" in to_cewe[0].subject
    membership = PhotoServiceMembership.objects.get(person_id=member.pk)
    assert f"Jessops Photo membership {membership.pk}" in to_cewe[0].text()
    notices = RecipientNotification.objects.filter(party=party(CEWE))
    assert [n.event for n in notices] == [NoticeEvent.ERASURE]
    assert membership.left_because == "erasure"
    assert membership.leave_notification == notices.get()
    wait_for_state(notices.get(), State.NOTIFIED)
    time.sleep(1)  # nothing else follows
    assert len([m for m in smtp.messages if m.rcpt_tos == ("privacy@cewe.example",)]) == 1
