"""Campaign services in-process: audience, segments, batches, pausing, schedules, the sweep."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from communications.models import Campaign, Delivery
from communications.services import (
    CampaignError,
    campaign_progress,
    cancel_campaign,
    create_campaign,
    pause_campaign,
    populate_campaign,
    resume_campaign,
    run_due_campaigns,
    schedule_campaign,
    send_campaign_batch,
    send_campaign_now,
    sweep_campaigns,
    sweep_outbox,
    update_campaign,
)
from consent.services import ConsentSource, LegalBasis, grant_consent
from tests import factories
from tests.factories import CampaignFactory, UserFactory

Status = Delivery.Status


@pytest.fixture(autouse=True)
def no_broker(settings):
    """The tasks these services enqueue are run by hand here."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with (
        mock.patch("communications.tasks.populate_campaign_task.delay") as populate,
        mock.patch("communications.tasks.send_campaign_batch_task.delay") as batch,
    ):
        yield populate, batch


@pytest.fixture
def subscribers(db):
    users = factories.subscribers(6)
    UserFactory(email="not-subscribed@example.com")
    return users


def run(campaign: Campaign) -> None:
    send_campaign_now(campaign=campaign)
    populate_campaign(campaign_id=campaign.pk)
    while send_campaign_batch(campaign_id=campaign.pk):
        pass


def test_a_campaign_goes_to_the_consenting_accounts_once_each(subscribers):
    campaign = CampaignFactory()

    run(campaign)
    populate_campaign(campaign_id=campaign.pk)  # a second walker writes nothing

    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in subscribers)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign_progress(campaign=campaign)["sent"] == 6
    assert Delivery.objects.filter(campaign=campaign).count() == 6


def test_the_audience_is_written_in_chunks_and_one_batch_task_per_batch(
    subscribers, settings, no_broker, django_capture_on_commit_callbacks
):
    settings.EMAIL_AUDIENCE_CHUNK = 4
    settings.EMAIL_BATCH_SIZE = 2
    _, batch = no_broker
    campaign = CampaignFactory()
    send_campaign_now(campaign=campaign)

    with django_capture_on_commit_callbacks(execute=True):
        assert populate_campaign(campaign_id=campaign.pk) == 6

    assert batch.call_count == 3  # 4 rows → 2 tasks, 2 rows → 1 task
    campaign.refresh_from_db()
    assert campaign.audience_complete
    assert campaign.audience_cursor == subscribers[-1].pk


def test_a_segment_narrows_the_audience(subscribers):
    early = subscribers[:2]
    for user in early:
        user.date_joined = timezone.now() - timedelta(days=400)
        user.save(update_fields=["date_joined"])
    campaign = CampaignFactory(
        segment={"joined_before": (timezone.now() - timedelta(days=365)).date().isoformat()}
    )

    run(campaign)

    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in early)


def test_a_legal_basis_segment_picks_soft_opt_in_customers(db, make_user):
    buyer = make_user("buyer@example.com")
    grant_consent(
        subject=buyer,
        purpose="newsletter",
        source=ConsentSource.ORDER_FORM,
        legal_basis=LegalBasis.SOFT_OPT_IN,
    )
    fan = make_user("fan@example.com")
    grant_consent(subject=fan, purpose="newsletter", source=ConsentSource.NEWSLETTER_FORM)

    run(CampaignFactory(segment={"legal_basis": "soft_opt_in"}))

    assert [m.to[0] for m in mail.outbox] == ["buyer@example.com"]


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ({"postcode": "SW1"}, "Unknown segment filter"),
        ({"joined_after": "yesterday"}, "YYYY-MM-DD"),
        ({"joined_after": "2026-02-01", "joined_before": "2026-01-01"}, "not be later"),
        ({"legal_basis": "whim"}, "legal_basis must be one of"),
    ],
)
def test_a_bad_segment_is_refused_with_a_clear_message_and_nothing_saved(db, segment, message):
    with pytest.raises(CampaignError, match=message):
        CampaignFactory(segment=segment)
    assert not Campaign.objects.exists()


def test_a_service_announcement_goes_to_every_active_account(subscribers, make_user):
    inactive = make_user("gone@example.com", is_active=False)
    campaign = CampaignFactory(kind="service_announcement", subject_line="Outage", body="Sorry")

    run(campaign)

    received = {m.to[0] for m in mail.outbox}
    assert "not-subscribed@example.com" in received
    assert inactive.email not in received
    assert all("List-Unsubscribe" not in m.extra_headers for m in mail.outbox)


def test_a_paused_campaign_sends_nothing_until_resumed(subscribers):
    campaign = CampaignFactory(started=True)
    pause_campaign(campaign=campaign)

    assert send_campaign_batch(campaign_id=campaign.pk) == 0
    assert mail.outbox == []

    resume_campaign(campaign=campaign)
    while send_campaign_batch(campaign_id=campaign.pk):
        pass
    assert len(mail.outbox) == 6


def test_a_started_campaign_keeps_its_kind_and_segment_but_may_fix_a_typo(subscribers):
    campaign = CampaignFactory()
    send_campaign_now(campaign=campaign)
    pause_campaign(campaign=campaign)

    with pytest.raises(CampaignError, match="keeps its kind and segment"):
        update_campaign(
            campaign=campaign, name="n", kind="special_offer", subject_line="Hi", body="x"
        )
    with pytest.raises(CampaignError, match="keeps its kind and segment"):
        update_campaign(
            campaign=campaign,
            name="n",
            kind="newsletter",
            subject_line="Hi",
            body="x",
            segment={"joined_after": "2020-01-01"},
        )
    update_campaign(
        campaign=campaign, name="n", kind="newsletter", subject_line="Hi!", body="Fixed"
    )
    campaign.refresh_from_db()
    assert (campaign.subject_line, campaign.kind) == ("Hi!", "newsletter")


def test_cancelling_cancels_the_rows_not_yet_sent(subscribers):
    campaign = CampaignFactory(started=True)

    cancel_campaign(campaign=campaign)

    assert send_campaign_batch(campaign_id=campaign.pk) == 0
    assert campaign_progress(campaign=campaign)["cancelled"] == 6
    with pytest.raises(CampaignError, match="Can't send a cancelled campaign"):
        send_campaign_now(campaign=campaign)


def test_a_scheduled_campaign_starts_when_due_and_not_before(
    subscribers, no_broker, django_capture_on_commit_callbacks
):
    populate, _ = no_broker
    campaign = CampaignFactory()
    schedule_campaign(campaign=campaign, send_at=timezone.now() + timedelta(hours=1))

    assert run_due_campaigns() == []

    Campaign.objects.filter(pk=campaign.pk).update(send_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert run_due_campaigns() == [campaign.pk]
    assert run_due_campaigns() == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    populate.assert_called_once_with(campaign.pk)


def test_scheduling_in_the_past_or_without_a_time_zone_is_refused(db):
    campaign = CampaignFactory()

    with pytest.raises(CampaignError, match="future"):
        schedule_campaign(campaign=campaign, send_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(CampaignError, match="time zone"):
        schedule_campaign(campaign=campaign, send_at=timezone.now().replace(tzinfo=None))


def test_rows_are_put_back_when_the_batch_fails_before_anything_is_handed_over(subscribers):
    campaign = CampaignFactory(started=True)

    with (
        mock.patch(
            "communications.services.campaigns.batches.campaign_template",
            side_effect=RuntimeError("template broken"),
        ),
        pytest.raises(RuntimeError),
    ):
        send_campaign_batch(campaign_id=campaign.pk)

    assert campaign_progress(campaign=campaign)["queued"] == 6
    assert not Delivery.objects.filter(attempts__gt=0).exists()


def test_the_sweep_restarts_a_stalled_campaign_and_reports_rows_stuck_sending(
    subscribers, settings, no_broker, django_capture_on_commit_callbacks
):
    _, batch = no_broker
    settings.EMAIL_CAMPAIGN_STALL_AFTER = 60
    settings.EMAIL_SENDING_TIMEOUT = 60
    campaign = CampaignFactory(started=True)
    # a worker claimed two rows, then died
    stuck = list(Delivery.objects.filter(campaign=campaign).order_by("id")[:2])
    long_ago = timezone.now() - timedelta(minutes=5)
    Delivery.objects.filter(pk__in=[d.pk for d in stuck]).update(
        status=Status.SENDING, claimed_at=long_ago
    )
    Campaign.objects.filter(pk=campaign.pk).update(last_batch_at=long_ago)

    assert sweep_outbox()["uncertain"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_campaigns() == [campaign.pk]
    assert sweep_campaigns() == []  # it moved just now
    assert batch.called
    while send_campaign_batch(campaign_id=campaign.pk):
        pass

    progress = campaign_progress(campaign=campaign)
    assert (progress["sent"], progress["uncertain"]) == (4, 2)
    assert len(mail.outbox) == 4
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED


def test_the_sending_timeout_must_outlast_the_task_time_limit(settings):
    settings.EMAIL_SENDING_TIMEOUT = 60
    settings.CELERY_TASK_TIME_LIMIT = 600

    with pytest.raises(SystemCheckError, match=r"communications\.E001"):
        call_command("check")


def test_a_subject_with_a_line_break_is_refused_before_anything_is_saved(db):
    with pytest.raises(CampaignError, match="one line"):
        newsletter_with_subject("Hi\r\nBcc: evil@example.com")
    assert not Campaign.objects.exists()


def newsletter_with_subject(subject_line: str) -> Campaign:
    return create_campaign(
        actor=None, name="n", kind="newsletter", subject_line=subject_line, body="b"
    )


def test_a_name_with_markup_or_line_breaks_is_made_safe_for_batch_merge_data(db, make_user):
    from communications.rendering import merge_values

    user = make_user("ann@example.com", first_name="Ann\r\nBcc: x <a href='evil'>")

    values = merge_values(user=user, purpose=None, ref="1")

    assert values["first_name"] == "Ann Bcc: x a href='evil'"


def test_a_restart_starts_a_bounded_chain_of_batch_tasks(subscribers, settings, no_broker):
    _, batch = no_broker
    settings.EMAIL_BATCH_SIZE = 1
    settings.EMAIL_RESTART_TASKS = 2
    campaign = CampaignFactory(started=True)
    batch.reset_mock()
    Campaign.objects.filter(pk=campaign.pk).update(
        last_batch_at=timezone.now() - timedelta(hours=1)
    )

    sweep_campaigns()

    # 6 rows queued, but only 2 chained tasks, not 6
    assert batch.call_count == 2
    assert all(call.kwargs == {"chain": True} for call in batch.call_args_list)
    batch.reset_mock()
    send_campaign_batch(campaign_id=campaign.pk, chain=True)
    batch.assert_called_once_with(campaign.pk, chain=True)  # its successor


def test_a_batch_is_capped_at_a_minute_of_the_rate_limit(subscribers, settings):
    settings.EMAIL_RATE_LIMITS = {"locmem": 0.05}  # 3 a minute
    campaign = CampaignFactory(started=True)

    with mock.patch("communications.ratelimit.acquire"):
        assert send_campaign_batch(campaign_id=campaign.pk) == 3
