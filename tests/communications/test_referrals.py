"""Sending a wishlist to a friend, through its pages: what is refused (links, too many a day,
no name), what is kept (an opaque token, nothing of the friend), the suppressed address, the
broker being down, and the friend's link counting a click and the sign-up after it."""

from __future__ import annotations

import html
import json
import re
from unittest import mock

import pytest
from kombu.exceptions import OperationalError

from communications.kinds import MessageKind
from communications.referrals.models import Referral, ReferralEvent
from communications.referrals.sealing import unseal
from communications.services import enqueue_email
from tests.factories import TEST_PASSWORD, SuppressionFactory
from tests.harness.http import logged_in
from tests.harness.http import text as _text

Status = Referral.Status
FRIEND = {"friend_name": "Zebedee Quill", "friend_email": "zebedee.quill@friends.example"}
LENS = "http://127.0.0.1:8000/products/zoom-lens-70-200/"


def text(response) -> str:
    return html.unescape(_text(response))


def wishlist(**changes) -> dict[str, str]:
    return {
        **FRIEND,
        "message": "For my birthday, if you like.",
        "item_1_name": "Zoom lens 70-200mm",
        "item_1_link": LENS,
        **changes,
    }


@pytest.fixture
def queued():
    """The sealed sends handed to the broker, as (referral id, sealed details)."""
    with mock.patch("communications.referrals.services.sending.publish") as publish:
        yield publish


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann", last_name="Lee", verified=True)


def send(client, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/wishlist/send/", data)


def test_the_page_asks_only_a_logged_in_customer(client):
    response = client.get("/wishlist/send/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_says_the_friends_details_are_not_kept(ann):
    response = logged_in(ann).get("/wishlist/send/")

    assert response.status_code == 200
    assert "We do not keep your friend's name or email address." in text(response)
    assert "You can send 10 more wishlists today." in text(response)


def test_a_wishlist_is_queued_sealed_and_only_a_token_is_kept(
    ann, queued, django_capture_on_commit_callbacks
):
    # when
    response = send(logged_in(ann), wishlist(), django_capture_on_commit_callbacks)

    # then the customer is sent on to a page naming nobody
    assert response.status_code == 302 and response["Location"] == "/wishlist/sent/"
    referral = Referral.objects.get()
    assert referral.sender == ann and referral.status == Status.QUEUED
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", referral.token)
    # and the worker gets the details sealed
    ((referral_id, sealed), _) = queued.call_args
    assert referral_id == referral.pk
    assert "zebedee" not in sealed.lower() and "Zebedee" not in sealed
    details = unseal(sealed)
    assert (details.friend_name, details.friend_email) == ("Zebedee Quill", FRIEND["friend_email"])
    assert details.sender_name == "Ann Lee"
    assert [(item.name, item.url) for item in details.items] == [("Zoom lens 70-200mm", LENS)]
    # and the page after says so without naming the friend
    page = text(logged_in(ann).get("/wishlist/sent/"))
    assert "Your wishlist is on its way" in page and "Zebedee" not in page


def test_one_product_link_is_a_wishlist(ann, queued, django_capture_on_commit_callbacks):
    data = {**FRIEND, "item_1_link": LENS}

    response = send(logged_in(ann), data, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    details = unseal(queued.call_args.args[1])
    assert [(item.name, item.url) for item in details.items] == [("", LENS)]


@pytest.mark.parametrize(
    "message",
    [
        "Look at https://elsewhere.example/deal",
        "see www.cheap-lenses.example",
        "bit.ly/abc123",
        "mail me at zed@elsewhere.example",
        "ftp://files.example/x",
    ],
)
def test_a_message_with_a_link_of_the_senders_own_is_refused(ann, queued, message):
    response = logged_in(ann).post("/wishlist/send/", wishlist(message=message))

    assert response.status_code == 400
    assert "The message can't contain links, web addresses or email addresses" in text(response)
    assert not Referral.objects.exists() and not queued.called


def test_a_product_link_outside_the_shop_is_refused(ann, queued):
    response = logged_in(ann).post(
        "/wishlist/send/", wishlist(item_1_link="https://phishing.example/login")
    )

    assert response.status_code == 400
    assert "Only links to products in our shop can be sent" in text(response)
    assert not Referral.objects.exists() and not queued.called


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"message": "x" * 501}, "Keep the message to 500 characters"),
        ({"message": "bell \x07"}, "The message can only contain plain text."),
        ({"friend_email": "not-an-address"}, "Enter a valid email address."),
        ({"friend_name": "Visit prizes.example"}, "can't contain a link"),
        ({"item_1_name": "", "item_1_link": ""}, "Add at least one product"),
        ({"item_1_link": "javascript:alert(1)"}, "starting with https://"),
        ({"item_1_link": "https://user:pw@127.0.0.1:8000/x"}, "starting with https://"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_kept(ann, queued, changes, error):
    response = logged_in(ann).post("/wishlist/send/", wishlist(**changes))

    assert response.status_code == 400
    assert error in text(response)
    assert not Referral.objects.exists() and not queued.called


def test_a_customer_without_a_name_is_asked_to_add_it(make_user, queued):
    nameless = make_user("nameless@example.com", verified=True)

    response = logged_in(nameless).post("/wishlist/send/", wishlist())

    assert response.status_code == 400
    assert "Add your name in Your details first" in text(response)
    assert not Referral.objects.exists()


def test_a_sender_whose_name_is_a_link_is_refused(make_user, queued):
    spammer = make_user(
        "s@example.com", first_name="Win at", last_name="prizes.example", verified=True
    )

    response = logged_in(spammer).post("/wishlist/send/", wishlist())

    assert response.status_code == 400
    assert "Your name in Your details can't contain a link" in text(response)
    assert not Referral.objects.exists()


def test_the_eleventh_wishlist_in_a_day_is_refused(
    ann, queued, settings, django_capture_on_commit_callbacks
):
    # given ten sent today (the limit)
    client = logged_in(ann)
    for _ in range(settings.REFERRAL_DAILY_LIMIT):
        assert send(client, wishlist(), django_capture_on_commit_callbacks).status_code == 302

    # when
    response = send(client, wishlist(), django_capture_on_commit_callbacks)

    # then
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 23 * 3600
    assert "You have sent 10 wishlists in the last 24 hours" in text(response)
    assert Referral.objects.count() == 10 and queued.call_count == 10


def test_the_limit_is_per_sender(ann, make_user, queued, settings):
    settings.REFERRAL_DAILY_LIMIT = 1
    bob = make_user("bob@example.com", first_name="Bob", verified=True)
    assert logged_in(ann).post("/wishlist/send/", wishlist()).status_code == 302

    assert logged_in(ann).post("/wishlist/send/", wishlist()).status_code == 429
    assert logged_in(bob).post("/wishlist/send/", wishlist()).status_code == 302


def test_a_suppressed_address_is_not_emailed_and_the_sender_is_not_told(
    ann, queued, django_capture_on_commit_callbacks
):
    # given the friend's address is on the do-not-email list (as a hash)
    SuppressionFactory(address="Zebedee.Quill@Friends.example")

    # when
    response = send(logged_in(ann), wishlist(), django_capture_on_commit_callbacks)

    # then the sender sees the usual answer, and nothing is queued
    assert response.status_code == 302 and response["Location"] == "/wishlist/sent/"
    assert not queued.called
    referral = Referral.objects.get()
    assert referral.status == Status.SUPPRESSED and referral.finished_at is not None


def test_with_the_broker_down_the_sender_is_asked_to_try_again_and_it_does_not_count(
    ann, settings, transactional_db
):
    # (committed for real: the queueing runs as the send's transaction commits)
    settings.REFERRAL_DAILY_LIMIT = 1
    down = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with mock.patch(
        "communications.referrals.tasks.deliver_referral_task.apply_async", side_effect=down
    ):
        response = logged_in(ann).post("/wishlist/send/", wishlist())

    assert response.status_code == 503
    assert "We could not send your wishlist just now" in text(response)
    assert Referral.objects.get().status == Status.NOT_QUEUED
    assert "You can send 1 more wishlist today." in text(response)


def test_the_outbox_refuses_a_referral_so_the_address_is_never_written_there(db):
    with pytest.raises(ValueError, match="never written to the outbox"):
        enqueue_email(kind=MessageKind.REFERRAL, to_email="zed@friends.example")


# --- The friend's link ------------------------------------------------------------------------


@pytest.fixture
def referral(ann, queued, django_capture_on_commit_callbacks) -> Referral:
    send(logged_in(ann), wishlist(), django_capture_on_commit_callbacks)
    return Referral.objects.get()


def allow_analytics(client) -> None:
    """The visitor answers the cookie banner with "Accept all"."""
    client.post("/cookies/", {"choice": "accept_all", "next": "/"})


def test_a_click_is_counted_once_per_browser_and_leads_home(client, referral):
    allow_analytics(client)
    first = client.get(f"/wishlist/from/{referral.token}/")
    again = client.get(f"/wishlist/from/{referral.token}/")

    assert first.status_code == again.status_code == 302 and first["Location"] == "/"
    assert ReferralEvent.objects.filter(referral=referral, kind="click").count() == 1


def test_a_product_link_goes_to_the_signed_product_only(client, referral):
    from communications.referrals.mail import tracked_url

    url = tracked_url(referral.token, LENS).split("127.0.0.1:8000", 1)[1]
    forged = url.replace("zoom-lens", "other")

    assert client.get(url)["Location"] == LENS
    assert client.get(forged)["Location"] == "/"


def test_an_unknown_token_counts_nothing(client, db):
    response = client.get("/wishlist/from/nope/")

    assert response.status_code == 302 and response["Location"] == "/"
    assert not ReferralEvent.objects.exists()


def test_a_sign_up_after_a_click_is_counted_without_naming_who(client, referral):
    # when the friend, allowing analytics cookies, follows the link, then signs up
    allow_analytics(client)
    client.get(f"/wishlist/from/{referral.token}/")
    response = client.post(
        "/accounts/signup/",
        {
            "first_name": "Zeb",
            "last_name": "Quill",
            "email": "zeb@friends.example",
            "password1": TEST_PASSWORD,
            "password2": TEST_PASSWORD,
        },
    )

    # then one sign-up is counted for the referral, with a day and nothing else
    assert response.status_code == 302
    signup = ReferralEvent.objects.get(kind="signup")
    assert signup.referral == referral
    assert {f.name for f in ReferralEvent._meta.get_fields()} == {"id", "referral", "kind", "day"}


def test_a_browser_refusing_analytics_cookies_is_counted_but_not_remembered(client, referral):
    # given the visitor rejected analytics cookies
    client.post("/cookies/", {"choice": "reject_all", "next": "/"})

    # when they click twice, then sign up
    client.get(f"/wishlist/from/{referral.token}/")
    client.get(f"/wishlist/from/{referral.token}/")
    client.post(
        "/accounts/signup/",
        {
            "first_name": "Zeb",
            "last_name": "Quill",
            "email": "zeb@friends.example",
            "password1": TEST_PASSWORD,
            "password2": TEST_PASSWORD,
        },
    )

    # then each click counts, and nothing links the sign-up to the referral
    kinds = sorted(ReferralEvent.objects.values_list("kind", flat=True))
    assert kinds == ["click", "click"]
    assert "referral_token" not in client.session


def test_a_sign_up_without_a_click_counts_nothing(client, referral):
    client.post(
        "/accounts/signup/",
        {
            "first_name": "Una",
            "last_name": "Other",
            "email": "una@example.com",
            "password1": TEST_PASSWORD,
            "password2": TEST_PASSWORD,
        },
    )

    assert not ReferralEvent.objects.filter(kind="signup").exists()


# --- The staff's report ------------------------------------------------------------------------


def test_staff_see_counts_per_period_and_nothing_about_the_friends(client, referral, make_user):
    # given a click and a sign-up
    allow_analytics(client)
    client.get(f"/wishlist/from/{referral.token}/")
    ReferralEvent.objects.create(referral=referral, kind="signup", day=referral.created_at.date())
    officer = make_user(
        "officer@jessops.example", is_staff=True, permissions=["communications.view_referral"]
    )

    # when
    page = text(logged_in(officer).get("/admin/communications/referral/?period=day"))

    # then
    row = re.search(r"<th scope=\"row\">[^<]+</th> ?((?:<td>[^<]*</td> ?)+)", page)
    assert row, page
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
    # asked for, sent, uncertain, not sent, still sending, clicks, sign-ups, sign-ups per click
    assert cells == ["1", "0", "0", "0", "1", "1", "1", "100%"]
    assert "Zebedee" not in page and "ann@example.com" not in page


def test_the_report_is_refused_to_staff_without_the_permission(make_user, db):
    clerk = make_user("clerk@jessops.example", is_staff=True)

    response = logged_in(clerk).get("/admin/communications/referral/")

    assert response.status_code == 403


# --- The sender's data --------------------------------------------------------------------------


def test_the_senders_copy_of_their_data_lists_their_wishlists_and_nothing_of_the_friends(
    ann, referral
):
    response = logged_in(ann).get("/accounts/export/", {"format": "json"})

    data = json.loads(response.content)
    (sent,) = data["emails"]["wishlists_sent_to_friends"]
    assert sent == {"asked": referral.created_at.isoformat(), "status": "Queued"}
    assert "Zebedee" not in response.content.decode()


def test_erasing_the_sender_keeps_the_counts_unlinked(ann, referral, smtp):
    from accounts.services.privacy import erase_account, request_erasure

    request_erasure(user=ann, actor=ann)
    assert erase_account(user_id=ann.pk) is True

    referral.refresh_from_db()
    assert referral.sender is None and referral.token
