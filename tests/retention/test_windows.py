"""A batch looks only among a bounded window of keys (so its cost stays flat over a long run):
due rows after a long stretch of rows that are not due are still found, and a window with
nothing due costs no batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from consent.models import NewsletterRequestLimit
from retention import engine
from retention.models import RetentionRun
from retention.schedule import rule

pytestmark = pytest.mark.django_db(transaction=True)


def limits(count: int, *, due: bool, start: int) -> list[int]:
    ends = timezone.now() + (-timedelta(hours=1) if due else timedelta(hours=1))
    rows = NewsletterRequestLimit.objects.bulk_create(
        NewsletterRequestLimit(key=f"window{start + n:08d}", count=1, window_ends_at=ends)
        for n in range(count)
    )
    return [row.pk for row in rows]


def test_due_rows_after_windows_with_nothing_due_are_found():
    early_due = limits(3, due=True, start=0)
    kept = limits(2_500, due=False, start=10)  # more than two windows of nothing due
    late_due = limits(4, due=True, start=5_000)

    outcome = engine.run(rule("newsletter_requests"), batch_size=2)

    assert outcome.deleted == len(early_due) + len(late_due)
    assert not NewsletterRequestLimit.objects.filter(pk__in=early_due + late_due).exists()
    assert NewsletterRequestLimit.objects.filter(pk__in=kept).count() == len(kept)
    # only batches that found something count: 3 rows in 2 batches, 4 rows in 2 batches
    assert RetentionRun.objects.get(pk=outcome.run_id).batches == 4
