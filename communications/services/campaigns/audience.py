"""Walking a campaign's audience and writing one queued delivery row per recipient.

The walk goes in keyset chunks over the current-consent table (``consent.selectors.
audience_for``), narrowed by the campaign's segment and, for a notice, its own audience; each
chunk enqueues a batch task per ``EMAIL_BATCH_SIZE`` rows it wrote.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from communications.audiences import notice_subjects
from communications.kinds import rule_for
from communications.models import Campaign, Delivery
from consent.selectors import audience_for
from privacy_site.auth_user import AuthUser

from .batches import complete_if_done

CampaignStatus = Campaign.Status


def _segment_subjects(campaign: Campaign) -> QuerySet[AuthUser]:
    users = get_user_model().objects.all()
    segment = campaign.segment or {}
    if segment.get("joined_after"):
        users = users.filter(date_joined__date__gte=segment["joined_after"])
    if segment.get("joined_before"):
        users = users.filter(date_joined__date__lte=segment["joined_before"])
    audience = rule_for(campaign.kind).audience
    if audience is not None:
        # A notice walks its own audience; the gate asks again when each row is sent.
        users = notice_subjects(audience, users)
    return users


def populate_campaign(*, campaign_id: int) -> int:
    """Write the queued rows for the rest of the audience; returns how many were written.

    Each chunk commits on its own with the cursor, so a worker stopped half-way resumes where
    it left off, and a second walker running at once writes nothing twice (the unique
    (campaign, user) constraint, and the campaign row lock each chunk takes).
    """
    from communications.tasks import send_campaign_batch_task

    written = 0
    chunk = settings.EMAIL_AUDIENCE_CHUNK
    batch = settings.EMAIL_BATCH_SIZE
    while True:
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update().select_related("purpose").get(pk=campaign_id)
            )
            if campaign.status != CampaignStatus.SENDING or campaign.audience_complete:
                return written
            subjects = list(
                audience_for(
                    purpose=campaign.purpose,
                    after=campaign.audience_cursor,
                    limit=chunk,
                    subjects=_segment_subjects(campaign),
                    legal_basis=(campaign.segment or {}).get("legal_basis") or None,
                )
            )
            if not subjects:
                campaign.audience_complete = True
                campaign.save(update_fields=["audience_complete", "updated_at"])
                transaction.on_commit(lambda: complete_if_done(campaign_id=campaign_id))
                return written
            Delivery.objects.bulk_create(
                [
                    Delivery(kind=campaign.kind, campaign_id=campaign_id, user_id=subject)
                    for subject in subjects
                ],
                batch_size=chunk,
                ignore_conflicts=True,
            )
            campaign.audience_cursor = subjects[-1]
            campaign.last_batch_at = timezone.now()
            campaign.save(update_fields=["audience_cursor", "last_batch_at", "updated_at"])
            tasks = math.ceil(len(subjects) / batch)
            # Robust: with the broker down the rows are still written; the sweep restarts
            # the campaign once it stalls.

            def enqueue_batches(n: int = tasks) -> None:
                for _ in range(n):
                    send_campaign_batch_task.delay(campaign_id)

            transaction.on_commit(enqueue_batches, robust=True)
            written += len(subjects)
