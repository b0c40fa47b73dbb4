"""The communications admin: campaigns written through the service, progress, preview, the
sending buttons, masked deliveries, the hashed suppression list, and who is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from communications.addresses import address_hash
from communications.models import Campaign, Delivery, ProviderEvent, Suppression, SuppressionLift
from communications.services import (
    complete_if_done,
    create_campaign,
    populate_campaign,
    record_provider_event,
    send_campaign_now,
)
from communications.services.suppression import SuppressionError, lift_suppression
from tests.factories import CampaignFactory, StaffFactory, SuppressionFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/admin/communications/campaign/"
DELIVERIES = "/admin/communications/delivery/"
SUPPRESSIONS = "/admin/communications/suppression/"
EVENTS = "/admin/communications/providerevent/"


def staff_client(email: str, *codenames: str) -> Client:
    """Staff holding these permissions of the communications app, logged in."""
    permissions = [f"communications.{codename}" for codename in codenames]
    return logged_in(StaffFactory(email=email, permissions=permissions))


@pytest.fixture
def draft(superuser) -> Campaign:
    return CampaignFactory(
        actor=superuser,
        name="Spring newsletter",
        subject_line="Spring is here",
        body="Hello {{ first_name }}, our **spring** lenses are in.",
    )


@pytest.fixture
def audience(make_user) -> list:
    return [
        make_user(email, consents=["newsletter"])
        for email in ("ann.jones@example.com", "bob.smith@example.org")
    ]


def change_url(campaign: Campaign) -> str:
    return f"{CAMPAIGNS}{campaign.pk}/change/"


def step_url(campaign: Campaign, step: str) -> str:
    return f"{CAMPAIGNS}{campaign.pk}/transition/{step}/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Writing campaigns ------------------------------------------------------------------------


def test_adding_a_campaign_saves_it_through_the_service_sanitised(root, superuser):
    response = root.post(
        f"{CAMPAIGNS}add/",
        {
            "name": "Offers",
            "kind": "special_offer",
            "subject_line": "Summer deals",
            "body_format": "html",
            "body": "<p onclick='steal()'>Deals</p><script>alert(1)</script>",
            "segment": '{"joined_after": "2024-01-01"}',
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get()
    assert campaign.purpose.code == "special_offers"
    assert campaign.created_by == superuser
    assert "<script>" not in campaign.body_html
    assert "onclick" not in campaign.body_html
    assert campaign.body_html.startswith("<p>Deals</p>")


@pytest.mark.parametrize(
    ("segment", "error"),
    [
        ('{"favourite_colour": "red"}', "Unknown segment filter: favourite_colour"),
        ("5", "The segment must be an object of filters"),
        ("true", "The segment must be an object of filters"),
        ('"x"', "The segment must be an object of filters"),
        ("[1]", "The segment must be an object of filters"),
    ],
)
def test_a_bad_segment_is_a_form_error_and_writes_nothing(root, segment, error):
    response = root.post(
        f"{CAMPAIGNS}add/",
        {
            "name": "Offers",
            "kind": "special_offer",
            "subject_line": "Summer deals",
            "body_format": "markdown",
            "body": "Deals",
            "segment": segment,
        },
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Campaign.objects.exists()


def test_editing_a_draft_goes_through_the_service(root, draft):
    response = root.post(
        change_url(draft),
        {
            "name": "Spring newsletter",
            "kind": "newsletter",
            "subject_line": "Spring, updated",
            "body_format": "html",
            "body": "<p>New</p><script>x()</script>",
            "segment": "{}",
        },
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.subject_line == "Spring, updated"
    assert draft.body_html == "<p>New</p>"


def test_a_sending_campaign_is_shown_read_only(root, draft):
    send_campaign_now(campaign=draft)

    page = root.get(change_url(draft))
    post = root.post(
        change_url(draft), {"subject_line": "Too late", "name": "x", "kind": "newsletter"}
    )

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    draft.refresh_from_db()
    assert draft.subject_line == "Spring is here"


# --- Progress ---------------------------------------------------------------------------------


def test_progress_shows_as_a_bar_with_text_in_the_list_and_on_the_page(root, draft, audience):
    send_campaign_now(campaign=draft)
    populate_campaign(campaign_id=draft.pk)

    listing = root.get(CAMPAIGNS).content.decode()
    page = root.get(change_url(draft)).content.decode()

    assert 'class="comms-bar" aria-hidden="true"' in listing
    assert '<rect class="comms-bar-' not in listing  # nothing finished yet: an empty bar
    assert "style=" not in listing and "style=" not in page  # no inline style under the CSP
    assert "css/admin-extra.css" in listing
    assert "0 of 2 sent, 0 of 2 finished" in listing
    for label in ("Queued", "Sent", "Failed", "Bounced", "Complained", "Unsubscribed"):
        assert f"<dt>{label}</dt>" in page
    assert "<dt>Recipients so far</dt><dd>2</dd>" in page
    assert "/admin/communications/delivery/?campaign__id__exact=" in page


def test_the_bar_is_drawn_without_inline_style():
    from communications.admin.progress import progress_bar

    progress = dict.fromkeys(Delivery.Status.values, 0)
    progress.update(total=4, sent=2, failed=1, queued=1)

    bar = progress_bar(progress)

    assert "style=" not in bar
    assert '<rect class="comms-bar-sent" x="0.00" y="0" width="50.00" height="1">' in bar
    assert '<rect class="comms-bar-failed" x="50.00" y="0" width="25.00" height="1">' in bar
    assert "2 of 4 sent, 3 of 4 finished" in bar


# --- Preview and buttons ----------------------------------------------------------------------


def test_the_preview_page_shows_html_in_a_sandboxed_frame_text_and_headers(root, draft):
    response = root.get(f"{CAMPAIGNS}{draft.pk}/preview/")

    content = response.content.decode()
    assert response.status_code == 200
    frame_url = f"{CAMPAIGNS}{draft.pk}/preview/email/"
    assert (
        f'<iframe class="comms-frame" title="HTML version of the email" sandbox src="{frame_url}">'
        in content
    )
    email = root.get(frame_url).content.decode()
    assert "<strong>spring</strong>" in email
    assert "Hello Sam" in email
    assert "/unsubscribe/sample/" in email
    assert "List-Unsubscribe-Post" in content
    assert '<pre class="comms-text">' in content


def test_send_test_to_myself_queues_a_campaign_test(root, superuser, draft):
    response = root.post(step_url(draft, "test"), follow=True)

    delivery = Delivery.objects.get()
    assert (delivery.kind, delivery.user) == ("campaign_test", superuser)
    assert "A test is on its way to r***@jessops.example." in messages_of(response)


def test_send_now_pause_resume_cancel_from_the_page(root, draft):
    for step, status in [
        ("send", "sending"),
        ("pause", "paused"),
        ("resume", "sending"),
        ("cancel", "cancelled"),
    ]:
        response = root.post(step_url(draft, step), follow=True)
        draft.refresh_from_db()
        assert draft.status == status
        assert f"“Spring newsletter” is now {status}." in messages_of(response)


def test_a_refused_step_shows_the_service_message_as_an_error(root, draft):
    send_campaign_now(campaign=draft)
    populate_campaign(campaign_id=draft.pk)
    complete_if_done(campaign_id=draft.pk)

    response = root.post(step_url(draft, "cancel"), follow=True)

    assert "Can't cancel a completed campaign." in messages_of(response)
    draft.refresh_from_db()
    assert draft.status == "completed"


def test_schedule_uses_the_send_at_field(root, draft):
    when = timezone.localtime() + timedelta(days=1)

    response = root.post(
        step_url(draft, "schedule"), {"send_at": when.strftime("%Y-%m-%dT%H:%M")}, follow=True
    )

    draft.refresh_from_db()
    assert draft.status == "scheduled"
    assert draft.send_at == when.replace(second=0, microsecond=0)
    assert any("is scheduled for" in m for m in messages_of(response))


def test_schedule_in_the_past_is_refused_with_a_message(root, draft):
    response = root.post(step_url(draft, "schedule"), {"send_at": "2020-01-01T09:00"}, follow=True)

    assert "send_at must be in the future; use send now instead." in messages_of(response)
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_the_changelist_actions_report_each_refusal(root, draft, superuser):
    other = create_campaign(
        actor=superuser, name="Other", kind="newsletter", subject_line="S", body="Body"
    )
    send_campaign_now(campaign=other)

    response = root.post(
        CAMPAIGNS,
        {"action": "pause_action", "_selected_action": [draft.pk, other.pk]},
        follow=True,
    )

    shown = messages_of(response)
    assert "“Spring newsletter”: Can't pause a draft campaign." in shown
    assert "1 campaign(s) paused." in shown
    other.refresh_from_db()
    assert other.status == "paused"


def test_the_change_page_offers_buttons_for_the_status(root, draft):
    content = root.get(change_url(draft)).content.decode()

    assert "Send now" in content and "Schedule" in content and "Preview" in content
    assert ">Pause<" not in content and ">Resume<" not in content


# --- Who is refused ---------------------------------------------------------------------------


def test_staff_without_the_send_permission_cannot_press_a_button(draft):
    viewer = staff_client("viewer@jessops.example", "view_campaign", "change_campaign")

    page = viewer.get(change_url(draft)).content.decode()
    responses = [viewer.post(step_url(draft, step)) for step in ("send", "test", "cancel")]

    assert "Send now" not in page
    assert [r.status_code for r in responses] == [403, 403, 403]
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not Delivery.objects.exists()


def test_staff_without_any_campaign_permission_see_nothing(draft):
    nobody = staff_client("clerk@jessops.example")

    assert nobody.get(CAMPAIGNS).status_code == 403
    assert nobody.get(f"{CAMPAIGNS}{draft.pk}/preview/").status_code == 403
    assert nobody.post(step_url(draft, "send")).status_code == 403
    assert nobody.get(DELIVERIES).status_code == 403


def test_a_customer_is_sent_to_the_login_page(make_user, draft):
    customer = logged_in(make_user("ann@example.com"))

    response = customer.post(step_url(draft, "send"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_buttons_only_take_post(root, draft):
    assert root.get(step_url(draft, "send")).status_code == 405


# --- Deliveries, suppressions, provider events ------------------------------------------------


def test_deliveries_are_read_only_and_never_show_an_address(draft, audience):
    send_campaign_now(campaign=draft)
    populate_campaign(campaign_id=draft.pk)
    marketing = staff_client("mia@jessops.example", "view_campaign", "view_delivery")
    delivery = Delivery.objects.order_by("id").first()

    listing = marketing.get(DELIVERIES, {"campaign__id__exact": draft.pk}).content.decode()
    page = marketing.get(f"{DELIVERIES}{delivery.pk}/change/").content.decode()

    assert "a***@example.com" in listing and "b***@example.org" in listing
    for text in (listing, page):
        assert "ann.jones" not in text and "bob.smith" not in text
    assert marketing.get(f"{DELIVERIES}add/").status_code == 403
    assert marketing.post(f"{DELIVERIES}{delivery.pk}/delete/").status_code == 403
    assert 'name="_save"' not in page


def test_delivery_list_filters_by_status_kind_and_campaign(root, draft, audience):
    send_campaign_now(campaign=draft)
    populate_campaign(campaign_id=draft.pk)

    for query in ({"status__exact": "queued"}, {"kind__exact": "newsletter"}):
        response = root.get(DELIVERIES, query)
        assert response.status_code == 200
        assert response.context["cl"].result_count == 2


def test_adding_a_suppression_keeps_only_the_hash(root):
    response = root.post(
        f"{SUPPRESSIONS}add/",
        {"address": "Carol@Example.com", "reason": "manual", "detail": "asked by phone"},
    )

    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert suppression.address_hash == address_hash("carol@example.com")
    assert suppression.reason == "manual"
    listing = root.get(SUPPRESSIONS).content.decode()
    assert suppression.address_hash[:12] in listing
    assert "carol" not in listing.lower()


def suppressed(address: str = "dan@example.com") -> Suppression:
    return SuppressionFactory(address=address, reason="manual", detail="asked by phone")


def test_a_suppression_is_lifted_through_the_service_with_a_reason_and_the_staff_member(
    make_user,
):
    suppression = suppressed()
    staff = make_user(
        "privacy@jessops.example",
        is_staff=True,
        permissions=["communications.view_suppression", "communications.delete_suppression"],
    )
    client = logged_in(staff)

    page = client.get(f"{SUPPRESSIONS}{suppression.pk}/change/").content.decode()
    form = client.get(f"{SUPPRESSIONS}{suppression.pk}/lift/")
    response = client.post(
        f"{SUPPRESSIONS}{suppression.pk}/lift/",
        {"address": "Dan@Example.com", "reason": "Dan phoned on 3 May and asked to hear again."},
    )

    assert f"{SUPPRESSIONS}{suppression.pk}/lift/" in page
    assert form.status_code == 200
    assert response.status_code == 302
    assert not Suppression.objects.exists()
    lift = SuppressionLift.objects.get()
    assert (lift.address_hash, lift.suppressed_reason, lift.suppressed_detail) == (
        address_hash("dan@example.com"),
        "manual",
        "asked by phone",
    )
    assert lift.lifted_by == staff
    assert lift.reason == "Dan phoned on 3 May and asked to hear again."
    assert lift.suppressed_at == suppression.created_at


def test_a_lift_needs_the_matching_address_and_a_reason(root):
    suppression = suppressed()
    url = f"{SUPPRESSIONS}{suppression.pk}/lift/"

    wrong = root.post(url, {"address": "eve@example.com", "reason": "Asked."})
    no_reason = root.post(url, {"address": "dan@example.com", "reason": "  "})

    assert wrong.status_code == 200
    assert "This is not the address of this suppression." in wrong.content.decode()
    assert no_reason.status_code == 200
    assert no_reason.context["form"].errors
    assert Suppression.objects.filter(pk=suppression.pk).exists()
    assert not SuppressionLift.objects.exists()


def test_django_delete_no_longer_removes_a_suppression(root):
    suppression = suppressed()

    page = root.get(f"{SUPPRESSIONS}{suppression.pk}/delete/")
    single = root.post(f"{SUPPRESSIONS}{suppression.pk}/delete/", {"post": "yes"})
    bulk = root.post(
        SUPPRESSIONS,
        {"action": "delete_selected", "_selected_action": [suppression.pk], "post": "yes"},
    )

    assert page.status_code == 403 and single.status_code == 403
    assert bulk.status_code in (200, 302)
    assert root.get(SUPPRESSIONS).context["action_form"] is None  # no bulk delete offered
    assert Suppression.objects.filter(pk=suppression.pk).exists()
    assert not SuppressionLift.objects.exists()


def test_staff_without_the_delete_permission_cannot_lift():
    suppression = suppressed()
    client = staff_client("temp@jessops.example", "view_suppression")

    page = client.get(f"{SUPPRESSIONS}{suppression.pk}/change/").content.decode()
    response = client.post(
        f"{SUPPRESSIONS}{suppression.pk}/lift/",
        {"address": "dan@example.com", "reason": "Asked."},
    )

    assert "/lift/" not in page
    assert response.status_code == 403
    assert Suppression.objects.filter(pk=suppression.pk).exists()


def test_the_lift_service_refuses_a_customer_and_an_empty_reason(make_user):
    suppressed()
    customer = make_user("mallory@example.com")

    with pytest.raises(SuppressionError):
        lift_suppression(address="dan@example.com", reason="Asked.", actor=customer)
    with pytest.raises(SuppressionError):
        lift_suppression(address="dan@example.com", reason="", actor=customer)

    assert Suppression.objects.exists()


def test_the_lift_record_is_read_only_in_the_admin(root, superuser):
    suppressed()
    lift_suppression(address="dan@example.com", reason="Asked by email.", actor=superuser)
    lift = SuppressionLift.objects.get()
    url = "/admin/communications/suppressionlift/"

    assert root.get(url).status_code == 200
    assert root.get(f"{url}add/").status_code == 403
    assert root.post(f"{url}{lift.pk}/delete/", {"post": "yes"}).status_code == 403
    assert "dan@" not in root.get(f"{url}{lift.pk}/change/").content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_to_rewrite_a_lift(superuser):
    suppressed()
    lift_suppression(address="dan@example.com", reason="Asked by email.", actor=superuser)

    with pytest.raises(DatabaseError), transaction.atomic():
        SuppressionLift.objects.update(reason="Nobody asked.")
    with pytest.raises(DatabaseError), transaction.atomic():
        SuppressionLift.objects.all().delete()


def test_provider_events_are_read_only_without_the_address(root):
    from anymail.signals import AnymailTrackingEvent

    event = AnymailTrackingEvent(
        event_type="bounced",
        event_id="evt-1",
        recipient="erin@example.com",
        description="550 5.1.1 <erin@example.com>: user unknown",
        timestamp=timezone.now(),
    )
    record_provider_event(event=event, esp_name="test")
    stored = ProviderEvent.objects.get()

    listing = root.get(EVENTS).content.decode()
    page = root.get(f"{EVENTS}{stored.pk}/change/").content.decode()

    assert "erin@" not in listing and "erin@" not in page
    assert "e***@example.com" in page
    assert root.get(f"{EVENTS}add/").status_code == 403


def test_the_periodic_task_admin_still_renders(root):
    response = root.get("/admin/django_celery_beat/periodictask/")

    assert response.status_code == 200
    assert "Run due scheduled campaigns" in response.content.decode()
