"""Walking a campaign's audience and writing one queued delivery row per recipient.

The walk goes in keyset chunks over the current-consent table (``consent.selectors.
audience_for``), narrowed by the campaign's segment and, for a notice, its own audience; each
chunk enqueues a batch task per ``EMAIL_BATCH_SIZE`` rows it wrote.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
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


def _write_rows(campaign: Campaign, subjects: QuerySet[Any, int]) -> tuple[int, int]:
    """Insert a queued row for each subject id ``subjects`` selects, in one statement that
    PostgreSQL runs from the audience query to the table (no row passes through Python);
    returns how many ids the chunk held and the last one. A row already written (a second
    walker, a resumed walk) is left as it is."""
    if connection.vendor != "postgresql":
        ids = [int(i) for i in subjects]
        Delivery.objects.bulk_create(
            [Delivery(kind=campaign.kind, campaign_id=campaign.pk, user_id=i) for i in ids],
            ignore_conflicts=True,
        )
        return len(ids), (ids[-1] if ids else 0)
    # Every column as a row built by the ORM would have it, so a field added to the model
    # later is written with its default here too.
    template = Delivery(kind=campaign.kind, campaign_id=campaign.pk)
    fields = [
        f for f in Delivery._meta.concrete_fields if not f.primary_key and f.attname != "user_id"
    ]
    values = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
    select, params = subjects.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    table = quote(Delivery._meta.db_table)
    user_column = quote(str(Delivery._meta.get_field("user").column))
    placeholders = ", ".join(["%s"] * len(values))
    statement = f"""
        WITH chunk AS MATERIALIZED (SELECT * FROM ({select}) AS audience(subject)),
        written AS (
            INSERT INTO {table} ({columns}, {user_column})
            SELECT {placeholders}, chunk.subject FROM chunk
            ON CONFLICT DO NOTHING RETURNING 1
        )
        SELECT count(*), coalesce(max(subject), 0), (SELECT count(*) FROM written) FROM chunk
    """  # noqa: S608 - names from the model, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, *values])
        found, last, _ = cursor.fetchone()
    return int(found), int(last)


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
            subjects = audience_for(
                purpose=campaign.purpose,
                after=campaign.audience_cursor,
                limit=chunk,
                subjects=_segment_subjects(campaign),
                legal_basis=(campaign.segment or {}).get("legal_basis") or None,
            )
            found, last = _write_rows(campaign, subjects)
            if not found:
                campaign.audience_complete = True
                campaign.save(update_fields=["audience_complete", "updated_at"])
                transaction.on_commit(lambda: complete_if_done(campaign_id=campaign_id))
                return written
            campaign.audience_cursor = last
            campaign.last_batch_at = timezone.now()
            campaign.save(update_fields=["audience_cursor", "last_batch_at", "updated_at"])
            tasks = math.ceil(found / batch)
            # Robust: with the broker down the rows are still written; the sweep restarts
            # the campaign once it stalls.

            def enqueue_batches(n: int = tasks) -> None:
                for _ in range(n):
                    send_campaign_batch_task.delay(campaign_id)

            transaction.on_commit(enqueue_batches, robust=True)
            written += found
