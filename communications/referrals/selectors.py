"""Reads of the wishlist referrals: the sender's daily allowance and the staff's report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from communications.referrals.models import Referral, ReferralEvent
from privacy_site.auth_user import AuthUser

Status = Referral.Status
PERIODS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
# How far back the report goes, per period.
REPORT_SPAN = {"day": timedelta(days=31), "week": timedelta(weeks=26), "month": timedelta(days=730)}
NOT_SENT = [Status.FAILED, Status.SUPPRESSED, Status.NOT_QUEUED, Status.EXPIRED]


def referrals_left_today(*, sender: AuthUser) -> int:
    since = timezone.now() - timedelta(hours=24)
    used = (
        Referral.objects.filter(sender=sender, created_at__gt=since)
        .exclude(status=Status.NOT_QUEUED)
        .count()
    )
    limit: int = settings.REFERRAL_DAILY_LIMIT
    return max(0, limit - used)


@dataclass(frozen=True)
class ReportRow:
    period: date
    requested: int = 0  # every wishlist a customer asked us to send
    sent: int = 0
    uncertain: int = 0  # may have arrived: no answer after the hand-over
    not_sent: int = 0  # refused, suppressed, not queued, expired
    in_progress: int = 0
    clicks: int = 0
    signups: int = 0

    @property
    def signup_rate(self) -> str:
        return f"{self.signups / self.clicks:.0%}" if self.clicks else "none"


def _start(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def referral_report(*, period: str = "week", until: date | None = None) -> list[ReportRow]:
    """Counts per period, newest first: wishlists asked for (by the day they were asked for)
    and what became of them, clicks and sign-ups (by the day they happened). Nothing about
    who they went to: nothing about them is kept."""
    trunc = PERIODS[period]
    until = until or timezone.localdate()
    since = until - REPORT_SPAN[period]
    rows: dict[date, dict[str, int]] = {}
    sends = (
        Referral.objects.filter(created_at__date__gte=since, created_at__date__lte=until)
        .annotate(period=trunc("created_at"))
        .values("period")
        .annotate(
            requested=Count("pk"),
            sent=Count("pk", filter=Q(status=Status.SENT)),
            uncertain=Count("pk", filter=Q(status=Status.UNCERTAIN)),
            not_sent=Count("pk", filter=Q(status__in=NOT_SENT)),
            in_progress=Count("pk", filter=Q(status__in=[Status.QUEUED, Status.SENDING])),
        )
    )
    for send in sends:
        counts = rows.setdefault(_start(send["period"]), {})
        for name in ("requested", "sent", "uncertain", "not_sent", "in_progress"):
            counts[name] = int(send[name])
    events = (
        ReferralEvent.objects.filter(day__gte=since, day__lte=until)
        .annotate(period=trunc("day"))
        .values("period")
        .annotate(
            clicks=Count("pk", filter=Q(kind=ReferralEvent.Kind.CLICK)),
            signups=Count("pk", filter=Q(kind=ReferralEvent.Kind.SIGNUP)),
        )
    )
    for event in events:
        counts = rows.setdefault(_start(event["period"]), {})
        counts["clicks"], counts["signups"] = int(event["clicks"]), int(event["signups"])
    return [ReportRow(period=start, **rows[start]) for start in sorted(rows, reverse=True)]
