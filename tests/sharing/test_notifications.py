"""Article 19 notices: a correction or an erasure writes one notice to each party that received
the data concerned, and nobody else, in its own transaction; each goes the way the register
says (signed POST, email through the outbox, or staff by hand), failures are retried or
failed as they deserve, and what the notice keeps is only what the party needs to act."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from unittest import mock

import pytest
from anymail.signals import AnymailTrackingEvent
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.services import update_profile
from accounts.services.privacy import erase_account, request_erasure
from accounts.services.requests import (
    fulfil_rectification_request,
    log_privacy_request,
    record_identity_check,
)
from communications.kinds import MessageKind
from communications.models import Delivery
from communications.services import process_provider_event, record_provider_event
from sharing.models import DataCategory, Disclosure, DisclosurePurpose
from sharing.notification_models import (
    NoticeEvent,
    NoticeMethod,
    RecipientNotification,
    RecipientNotificationStep,
)
from sharing.privacy import export_for_user
from sharing.services import NotificationError, record_notified_by_hand
from sharing.services.notifications import send_notification, sweep_notifications
from tests.harness.http import logged_in
from tests.harness.https_receiver import NoticeReceiver
from tests.sharing.conftest import BANK, CEWE, COURTS, PARCELFORCE, party
from tests.sharing.notices import party_key, set_notification_address, verify_signature

pytestmark = pytest.mark.django_db
State = RecipientNotification.State
Step = RecipientNotificationStep.Kind
KEY = "a-test-notification-signing-key"
ADDRESS = {"address_line_1": "1 Old Road", "town": "Leeds", "postcode": "LS1 1AA"}


@pytest.fixture(autouse=True)
def _no_relays(settings):
    """The tasks are Celery's; here the tests call the services themselves (the worker tests
    are in test_notifications_worker.py)."""
    settings.SHARING_NOTIFICATION_SIGNING_KEY = KEY
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with (
        mock.patch("sharing.tasks.send_notification_task.delay") as delay,
        mock.patch("sharing.tasks.send_notification_task.apply_async") as apply_async,
        mock.patch("communications.tasks.send_delivery_task.delay"),
        mock.patch("communications.tasks.send_delivery_task.apply_async"),
    ):
        yield {"delay": delay, "apply_async": apply_async}


@pytest.fixture
def receiver(tmp_path, settings):
    server = NoticeReceiver(tmp_path).start()
    settings.SHARING_NOTIFICATION_CA_BUNDLE = str(server.ca_file)
    yield server
    server.stop()


@pytest.fixture
def ann(make_user):
    user = make_user("ann@example.com", first_name="Ann", last_name="Lee")
    update_profile(user=user, actor=user, phone="07700 900123", **ADDRESS)
    return user


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com", first_name="Bob")


@pytest.fixture
def shared(ann, bob, disclose):
    """Ann's order 1001 went to the bank and Parcelforce, her order 1002 to Parcelforce, and
    her name and email to CEWE for photo order P-7; Bob's order 2001 to the bank."""
    disclose(ann, reference="order 1001")
    delivery = {"party": party(PARCELFORCE), "purpose": DisclosurePurpose.DELIVERY}
    disclose(ann, reference="order 1001", **delivery)
    disclose(ann, reference="order 1002", **delivery)
    disclose(
        ann,
        party=party(CEWE),
        purpose=DisclosurePurpose.PHOTO_SERVICE,
        categories=[DataCategory.NAME, DataCategory.EMAIL],
        reference="photo order P-7",
    )
    disclose(bob, reference="order 2001")


def notices(**filters) -> dict[str, RecipientNotification]:
    return {
        notice.party.name: notice
        for notice in RecipientNotification.objects.filter(**filters).select_related("party")
    }


def steps(notice: RecipientNotification) -> list[str]:
    return list(notice.steps.order_by("id").values_list("kind", flat=True))


# --- Which parties, with what ---------------------------------------------------------------


def test_an_address_correction_notifies_exactly_the_parties_that_received_the_address(ann, shared):
    # when Ann moves
    update_profile(user=ann, actor=ann, address_line_1="2 New Street")

    # then the bank and Parcelforce, who got her address, are to be told; CEWE (name and
    # email only) and the parties that got only Bob's data are not
    sent = notices()
    assert set(sent) == {BANK, PARCELFORCE}
    for notice in sent.values():
        assert notice.person == ann and notice.event == NoticeEvent.RECTIFICATION
        assert notice.categories == [DataCategory.POSTAL_ADDRESS]
        # the seeded parties have no address or endpoint: staff will tell them
        assert (notice.method, notice.state) == ("", State.TO_NOTIFY)
        assert steps(notice) == [Step.CREATED]
    # each with its own references for Ann, and only hers
    assert sent[BANK].references == ["order 1001"]
    assert sent[PARCELFORCE].references == ["order 1001", "order 1002"]
    # and never the new address: the party gets only what it needs to act
    assert "New Street" not in json.dumps(
        list(RecipientNotification.objects.values("references", "categories", "result"))
    )


def test_a_name_correction_notifies_every_party_that_received_the_name(ann, shared):
    update_profile(user=ann, actor=ann, last_name="Lee-Smith")

    sent = notices()
    assert set(sent) == {BANK, PARCELFORCE, CEWE}
    assert {tuple(notice.categories) for notice in sent.values()} == {(DataCategory.NAME,)}
    assert sent[CEWE].references == ["photo order P-7"]


def test_a_changed_email_address_notifies_the_parties_that_had_the_old_one(
    ann, shared, clean_cache
):
    # Ann's verified address is the one CEWE received; she changes it on the email page
    # (allauth), and the change happens when she follows the link sent to the new address.
    from allauth.account.models import EmailAddress

    from accounts.models import AuditEvent

    EmailAddress.objects.update_or_create(
        user=ann, email=ann.email, defaults={"verified": True, "primary": True}
    )
    client = logged_in(ann)
    response = client.post("/accounts/email/", {"action_add": "", "email": "ann.lee@example.net"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert notices() == {}  # nothing changes until the new address is verified
    link = Delivery.objects.filter(to_email="ann.lee@example.net").latest("id")
    path = re.search(r"/accounts/confirm-email/[^/\s]+/", link.context["body"]).group(0)

    response = client.post(path)

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.email == "ann.lee@example.net"
    # the change is audited as Ann's own, from her account settings
    (audit,) = AuditEvent.objects.filter(subject=ann, field="email")
    assert (audit.old_value, audit.new_value) == ("ann@example.com", "ann.lee@example.net")
    assert (audit.actor, audit.source) == (ann, "account")
    # and CEWE, the one party that received her email address, is to be told; the bank and
    # Parcelforce (name and address only) are not
    sent = notices()
    assert set(sent) == {CEWE}
    assert (sent[CEWE].event, sent[CEWE].categories) == (
        NoticeEvent.RECTIFICATION,
        [DataCategory.EMAIL],
    )
    assert sent[CEWE].references == ["photo order P-7"]
    assert "ann.lee@example.net" not in json.dumps(
        list(RecipientNotification.objects.values("references", "categories", "result"))
    )


def test_a_correction_of_data_nobody_received_notifies_nobody(ann, shared):
    update_profile(user=ann, actor=ann, phone="07700 900999", contact_channel="phone")

    assert not RecipientNotification.objects.exists()


def test_a_correction_of_someone_whose_data_went_nowhere_notifies_nobody(make_user, shared):
    cy = make_user("cy@example.com", first_name="Cy")

    update_profile(user=cy, actor=cy, first_name="Cyril", **ADDRESS)

    assert not RecipientNotification.objects.exists()


def test_a_correction_that_rolls_back_leaves_no_notice(ann, shared):
    with pytest.raises(RuntimeError), transaction.atomic():
        update_profile(user=ann, actor=ann, address_line_1="2 New Street")
        raise RuntimeError("the rest of the request failed")

    assert not RecipientNotification.objects.exists()


def test_a_rectification_request_fulfilled_by_staff_notifies_the_recipients(
    ann, shared, admin_user
):
    request = log_privacy_request(
        request_type="rectification",
        channel="post",
        received_on=timezone.localdate(),
        logged_by=admin_user,
        subject=ann,
        details="My surname is spelt wrongly.",
    )
    record_identity_check(privacy_request=request, method="Signed letter", staff=admin_user)

    fulfil_rectification_request(
        privacy_request=request, staff=admin_user, fields={"last_name": "Leigh"}
    )

    assert set(notices(event=NoticeEvent.RECTIFICATION)) == {BANK, PARCELFORCE, CEWE}


def test_a_party_with_an_address_gets_its_email_written_to_the_outbox_with_the_correction(
    ann, shared, officer, django_capture_on_commit_callbacks
):
    # given CEWE gave us an address for notices
    set_notification_address(party(CEWE), officer, email="privacy@cewe.example")

    # when
    with django_capture_on_commit_callbacks() as callbacks:
        update_profile(user=ann, actor=ann, first_name="Annie")

    # then the email is in the outbox, to the party, with what it needs and no more
    notice = notices()[CEWE]
    assert notice.method == NoticeMethod.EMAIL and notice.state == State.TO_NOTIFY
    delivery = notice.delivery
    assert delivery.kind == MessageKind.RECIPIENT_NOTICE and delivery.user is None
    assert delivery.to_email == "privacy@cewe.example"
    assert delivery.status == Delivery.Status.QUEUED
    assert delivery.context["references"] == ["photo order P-7"]
    assert delivery.context["categories"] == ["Name"]
    assert "Annie" not in json.dumps(delivery.context)
    # and after commit the outbox relays it and a worker records the result
    assert len(callbacks) == 2


def test_sending_an_email_notice_records_the_outbox_result_once(ann, shared, officer):
    set_notification_address(party(CEWE), officer, email="privacy@cewe.example")
    update_profile(user=ann, actor=ann, first_name="Annie")
    notice = notices()[CEWE]

    assert send_notification(notification_id=notice.pk) == State.NOTIFIED
    assert send_notification(notification_id=notice.pk) == State.NOTIFIED

    (message,) = mail.outbox
    assert message.to == ["privacy@cewe.example"]
    assert "photo order P-7" in message.body and str(notice.notice_id) in message.subject
    assert "Correction" in message.subject and "Annie" not in message.body
    notice.refresh_from_db()
    assert notice.notified_at is not None and notice.attempts == 1
    assert "Email sent" in notice.result
    assert steps(notice) == [Step.CREATED, Step.SENT]
    # the outbox forgets the party's address and the references once it has gone
    notice.delivery.refresh_from_db()
    assert (notice.delivery.to_email, notice.delivery.context) == ("", {})


def test_an_email_that_bounces_after_it_was_sent_makes_the_notice_failed_again(
    ann, shared, officer
):
    set_notification_address(party(CEWE), officer, email="privacy@cewe.example")
    update_profile(user=ann, actor=ann, first_name="Annie")
    notice = notices()[CEWE]
    send_notification(notification_id=notice.pk)
    notice.delivery.refresh_from_db()

    # when the provider reports a hard bounce of that email
    event = record_provider_event(
        event=AnymailTrackingEvent(
            event_type="bounced",
            message_id=notice.delivery.provider_message_id,
            recipient="privacy@cewe.example",
            event_id="bounce-1",
            description="mailbox unavailable",
        ),
        esp_name="postmark",
    )
    process_provider_event(event_id=event.pk)
    swept = sweep_notifications()

    # then staff see it failed, with the references still there to give it another way
    assert swept["bounced"] == 1
    notice.refresh_from_db()
    assert notice.state == State.FAILED and notice.notified_at is None
    assert "bounced" in notice.result and notice.references == ["photo order P-7"]


def test_the_persons_copy_of_their_data_says_which_recipients_were_told(ann, shared, officer):
    update_profile(user=ann, actor=ann, address_line_1="2 New Street")
    record_notified_by_hand(
        notification=notices()[BANK], actor=officer, method="phone", note="Rang the DPO"
    )

    told = {item["recipient"]: item for item in export_for_user(ann)["notices_to_recipients"]}

    assert set(told) == {BANK, PARCELFORCE}
    assert told[BANK]["about"] == "Correction" and told[BANK]["what"] == ["Postal address"]
    assert (told[BANK]["state"], told[PARCELFORCE]["state"]) == ("Notified", "To notify")
    assert told[BANK]["told_on"] is not None and told[PARCELFORCE]["told_on"] is None
    assert "order 1001" not in json.dumps(told) and "Rang" not in json.dumps(told)


# --- Erasure ----------------------------------------------------------------------------------


def test_erasure_notifies_every_recipient_with_the_references_read_before_they_are_emptied(
    ann, shared, smtp
):
    # given a correction Parcelforce has not been told of yet
    update_profile(user=ann, actor=ann, address_line_1="2 New Street")
    ann_id = ann.pk

    # when Ann's account is erased
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann_id)

    # then every party that received her data is to be told, with its references
    erased = notices(event=NoticeEvent.ERASURE)
    assert set(erased) == {BANK, PARCELFORCE, CEWE}
    assert erased[BANK].categories == [DataCategory.NAME, DataCategory.POSTAL_ADDRESS]
    assert erased[CEWE].categories == [DataCategory.NAME, DataCategory.EMAIL]
    assert erased[PARCELFORCE].references == ["order 1001", "order 1002"]
    assert all(notice.person_id == ann_id for notice in erased.values())
    # while the log itself no longer holds them
    assert set(Disclosure.objects.filter(person_id=ann_id).values_list("reference", flat=True)) == {
        ""
    }
    # the correction notices are superseded, their references forgotten
    for notice in notices(event=NoticeEvent.RECTIFICATION).values():
        assert notice.state == State.SUPERSEDED and notice.references == []
        assert steps(notice) == [Step.CREATED, Step.SUPERSEDED]
    # Bob is untouched
    assert not RecipientNotification.objects.exclude(person_id=ann_id).exists()


def test_a_court_that_received_data_under_a_legal_obligation_is_told_too(
    ann, shared, disclose, smtp
):
    disclose(
        ann,
        party=party(COURTS),
        purpose=DisclosurePurpose.LEGAL_OBLIGATION,
        legal_basis="legal_obligation",
        reference="Court order 2026/123",
    )
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)

    assert notices(event=NoticeEvent.ERASURE)[COURTS].references == ["Court order 2026/123"]


# --- By hand ----------------------------------------------------------------------------------


def test_staff_record_a_notice_given_by_post_with_who_and_how(ann, shared, officer):
    update_profile(user=ann, actor=ann, address_line_1="2 New Street")
    notice = notices()[BANK]

    record_notified_by_hand(
        notification=notice, actor=officer, method=NoticeMethod.POST, note="Letter to the DPO"
    )

    notice.refresh_from_db()
    assert notice.state == State.NOTIFIED and notice.method == NoticeMethod.POST
    assert notice.notified_by == officer and notice.notified_at is not None
    assert notice.result == "Letter to the DPO"
    step = notice.steps.get(kind=Step.RECORDED_BY_HAND)
    assert step.actor == officer and "By post" in step.detail and "DPO" in step.detail
    # once given, it can't be given again
    with pytest.raises(NotificationError, match="already given"):
        record_notified_by_hand(
            notification=notice, actor=officer, method=NoticeMethod.PHONE, note="Rang them"
        )


def test_recording_a_notice_by_hand_needs_the_permission_a_method_and_a_note(
    ann, shared, officer, django_user_model
):
    update_profile(user=ann, actor=ann, address_line_1="2 New Street")
    notice = notices()[BANK]
    clerk = django_user_model.objects.create_user("clerk@jessops.example", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_recipientnotification"))

    with pytest.raises(NotificationError, match="may not"):
        record_notified_by_hand(notification=notice, actor=clerk, method="post", note="Sent")
    with pytest.raises(NotificationError, match="may not"):
        record_notified_by_hand(notification=notice, actor=ann, method="post", note="Sent")
    with pytest.raises(NotificationError, match="post or by phone"):
        record_notified_by_hand(notification=notice, actor=officer, method="email", note="x")
    with pytest.raises(NotificationError, match="what was sent"):
        record_notified_by_hand(notification=notice, actor=officer, method="post", note="  ")

    notice.refresh_from_db()
    assert notice.state == State.TO_NOTIFY and steps(notice) == [Step.CREATED]


def test_the_steps_of_a_notice_are_append_only(ann, shared):
    update_profile(user=ann, actor=ann, address_line_1="2 New Street")
    step = RecipientNotificationStep.objects.first()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        RecipientNotificationStep.objects.filter(pk=step.pk).update(detail="changed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        RecipientNotificationStep.objects.filter(pk=step.pk).delete()


# --- Posting to an endpoint -----------------------------------------------------------------


@pytest.fixture
def endpoint_notice(ann, shared, officer, receiver):
    """Parcelforce has an endpoint; Ann moved."""
    set_notification_address(party(PARCELFORCE), officer, url=receiver.url)
    update_profile(user=ann, actor=ann, address_line_1="2 New Street")
    notice = notices()[PARCELFORCE]
    assert notice.method == NoticeMethod.ENDPOINT
    return notice


def test_a_notice_is_posted_signed_to_the_partys_endpoint_once(endpoint_notice, receiver):
    assert send_notification(notification_id=endpoint_notice.pk) == State.NOTIFIED
    assert send_notification(notification_id=endpoint_notice.pk) == State.NOTIFIED

    (request,) = receiver.requests
    verify_signature(request, key=party_key(KEY, endpoint_notice.party_id))
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["x-privacy-notice-id"] == str(endpoint_notice.notice_id)
    assert headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body == {
        "id": str(endpoint_notice.notice_id),
        "type": "rectification",
        "occurred_at": endpoint_notice.occurred_at.isoformat(),
        "controller": "Jessops",
        "recipient": PARCELFORCE,
        "your_references": ["order 1001", "order 1002"],
        "categories": ["postal_address"],
        "category_names": ["Postal address"],
        "action": body["action"],
    }
    assert "correct or delete" in body["action"]
    endpoint_notice.refresh_from_db()
    assert endpoint_notice.state == State.NOTIFIED and endpoint_notice.attempts == 1
    assert endpoint_notice.result.startswith("HTTP 200")
    assert steps(endpoint_notice) == [Step.CREATED, Step.SENT]


def test_a_signature_under_another_partys_key_does_not_verify(endpoint_notice, receiver):
    send_notification(notification_id=endpoint_notice.pk)

    (request,) = receiver.requests
    with pytest.raises(AssertionError):
        verify_signature(request, key=party_key(KEY, endpoint_notice.party_id + 1))
    with pytest.raises(AssertionError):
        verify_signature(request, key=party_key("another key", endpoint_notice.party_id))


def test_a_refusal_fails_the_notice_at_once(endpoint_notice, receiver, _no_relays):
    receiver.answer_next(400)

    assert send_notification(notification_id=endpoint_notice.pk) == State.FAILED

    endpoint_notice.refresh_from_db()
    assert endpoint_notice.attempts == 1 and endpoint_notice.result.startswith("HTTP 400")
    assert steps(endpoint_notice) == [Step.CREATED, Step.PERMANENT_FAILURE]
    _no_relays["apply_async"].assert_not_called()
    # and a later task does not send it again
    assert send_notification(notification_id=endpoint_notice.pk) == State.FAILED
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed(endpoint_notice, receiver):
    receiver.answer_next(302)

    assert send_notification(notification_id=endpoint_notice.pk) == State.FAILED

    endpoint_notice.refresh_from_db()
    assert "redirects are not followed" in endpoint_notice.result


def test_a_server_error_is_tried_again_after_a_backoff(endpoint_notice, receiver, _no_relays):
    receiver.answer_next(503)

    assert send_notification(notification_id=endpoint_notice.pk) == State.RETRYING

    endpoint_notice.refresh_from_db()
    assert endpoint_notice.result.startswith("HTTP 503")
    wait = (endpoint_notice.next_attempt_at - timezone.now()).total_seconds()
    assert 25 < wait <= 60  # 50-100% of SHARING_NOTIFICATION_RETRY_BACKOFF (60 s)
    # its retry is its own task, due then; before then nothing is sent
    (call,) = _no_relays["apply_async"].call_args_list
    assert call.args == ((endpoint_notice.pk,),) and call.kwargs["countdown"] > 25
    assert send_notification(notification_id=endpoint_notice.pk) == State.RETRYING
    assert len(receiver.requests) == 1


def test_a_timeout_is_temporary_and_the_last_try_gives_up(endpoint_notice, receiver, settings):
    settings.SHARING_NOTIFICATION_TIMEOUT = 0.5
    settings.SHARING_NOTIFICATION_RETRY_BACKOFF = 0
    settings.SHARING_NOTIFICATION_MAX_ATTEMPTS = 2
    receiver.hang_next(1.5)

    assert send_notification(notification_id=endpoint_notice.pk) == State.RETRYING
    endpoint_notice.refresh_from_db()
    assert endpoint_notice.result == "No answer within 0.5 s."

    receiver.answer_next(500)
    assert send_notification(notification_id=endpoint_notice.pk) == State.FAILED
    endpoint_notice.refresh_from_db()
    assert endpoint_notice.result == 'Gave up after 2 tries: HTTP 500: {"error": "try later"}'
    assert steps(endpoint_notice) == [
        Step.CREATED,
        Step.TEMPORARY_FAILURE,
        Step.PERMANENT_FAILURE,
    ]


def test_an_endpoint_whose_certificate_is_not_trusted_is_not_sent_anything(
    endpoint_notice, receiver, settings
):
    settings.SHARING_NOTIFICATION_CA_BUNDLE = ""  # the system's authorities only

    assert send_notification(notification_id=endpoint_notice.pk) == State.RETRYING

    endpoint_notice.refresh_from_db()
    assert endpoint_notice.result == "Could not connect: SSLError."
    assert receiver.requests == []


def test_without_a_signing_key_nothing_is_posted(endpoint_notice, receiver, settings):
    settings.SHARING_NOTIFICATION_SIGNING_KEY = ""

    assert send_notification(notification_id=endpoint_notice.pk) == State.RETRYING

    endpoint_notice.refresh_from_db()
    assert "SHARING_NOTIFICATION_SIGNING_KEY" in endpoint_notice.result
    assert receiver.requests == []


def test_an_erasure_notice_asks_the_party_to_erase(ann, shared, officer, receiver, smtp):
    set_notification_address(party(PARCELFORCE), officer, url=receiver.url)
    request_erasure(user=ann, actor=ann)
    erase_account(user_id=ann.pk)
    notice = notices(event=NoticeEvent.ERASURE)[PARCELFORCE]

    send_notification(notification_id=notice.pk)

    body = json.loads(receiver.requests[-1].body)
    assert body["type"] == "erasure"
    assert body["your_references"] == ["order 1001", "order 1002"]
    assert body["categories"] == ["name", "postal_address"]
    assert body["action"].startswith("Erase the personal data")


# --- The sweep --------------------------------------------------------------------------------


def later(monkeypatch, seconds: float) -> None:
    moved = timezone.now() + timedelta(seconds=seconds)
    monkeypatch.setattr(timezone, "now", lambda: moved)


def test_the_sweep_starts_notices_whose_task_was_lost_but_not_those_for_staff(
    endpoint_notice, monkeypatch, _no_relays
):
    # given the notice's own task never ran, and the bank's is for staff
    assert notices()[BANK].method == ""

    # when the sweep runs a minute later
    later(monkeypatch, 61)
    swept = sweep_notifications()

    # then it starts the endpoint's notice only
    assert swept["started"] == 1
    _no_relays["delay"].assert_called_once_with(endpoint_notice.pk)


def test_the_sweep_takes_back_a_claim_whose_worker_died_and_it_is_sent_again(
    endpoint_notice, receiver, monkeypatch
):
    # given a worker claimed the notice and died before posting it
    with (
        mock.patch("sharing.services.notifications.sending._post", side_effect=SystemExit),
        pytest.raises(SystemExit),
    ):
        send_notification(notification_id=endpoint_notice.pk)
    endpoint_notice.refresh_from_db()
    assert endpoint_notice.state == State.SENDING
    # nobody else sends it meanwhile
    assert send_notification(notification_id=endpoint_notice.pk) == State.SENDING

    # when the sweep runs after the claim timeout
    later(monkeypatch, 301)
    assert sweep_notifications()["released"] == 1

    # then it is tried again, and goes
    assert send_notification(notification_id=endpoint_notice.pk) == State.NOTIFIED
    assert len(receiver.requests) == 1
    assert steps(endpoint_notice) == [Step.CREATED, Step.RELEASED, Step.SENT]


def test_a_notified_notice_forgets_the_references_after_thirty_days(
    endpoint_notice, receiver, monkeypatch
):
    send_notification(notification_id=endpoint_notice.pk)

    later(monkeypatch, 29 * 24 * 3600)
    assert sweep_notifications()["references_forgotten"] == 0
    later(monkeypatch, 31 * 24 * 3600)
    assert sweep_notifications()["references_forgotten"] == 1

    endpoint_notice.refresh_from_db()
    assert endpoint_notice.references == [] and endpoint_notice.state == State.NOTIFIED


# --- The key handed to a party -------------------------------------------------------------


def test_the_signing_key_command_prints_the_partys_key(capsys):
    call_command("notification_signing_key", "parcelforce")

    assert capsys.readouterr().out.strip() == party_key(KEY, party(PARCELFORCE).pk)


def test_the_signing_key_command_refuses_an_unknown_party_or_a_missing_key(settings):
    with pytest.raises(CommandError, match="No party named"):
        call_command("notification_signing_key", "Nobody Ltd")
    settings.SHARING_NOTIFICATION_SIGNING_KEY = ""
    with pytest.raises(CommandError, match="is not set"):
        call_command("notification_signing_key", PARCELFORCE)
