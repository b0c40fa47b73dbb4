"""Publishing a new version of the privacy policy."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from consent.models import PolicyVersion
from consent.services.ledger import ConsentError


@transaction.atomic
def publish_policy_version(
    *,
    text: str,
    summary: str,
    change_type: str,
    effective_date: datetime.date | None = None,
) -> PolicyVersion:
    """Add the next version and make it the one in force; earlier versions stay as they were."""
    if change_type not in PolicyVersion.ChangeType.values:
        raise ConsentError(f"Unknown change type {change_type!r}.")
    if not text.strip():
        raise ConsentError("The policy text is empty.")
    if not summary.strip():
        raise ConsentError("Say what changed: the summary is empty.")
    # Lock the current row so two publishers can't both become version N+1.
    list(PolicyVersion.objects.select_for_update().filter(is_current=True))
    number = (PolicyVersion.objects.aggregate(top=Max("number"))["top"] or 0) + 1
    PolicyVersion.objects.filter(is_current=True).update(is_current=False)
    return PolicyVersion.objects.create(
        number=number,
        text=text,
        summary=summary,
        change_type=change_type,
        effective_date=effective_date or timezone.localdate(),
        is_current=True,
    )
