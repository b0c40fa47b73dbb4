"""What a campaign's page shows beyond its progress bar: what became of every delivery, and how
many messages went out each minute, drawn by ``admin/communications/campaign/_charts.html``.

Like the bar, the charts are SVG with geometry and presentation attributes and the classes of
``static/css/admin-communications.css``, never style attributes (the Content-Security-Policy
allows no inline style). Each one carries its facts as text too: a title and a description
for screen readers, and the minutes as a table.

``campaign_report`` reads the campaign's rows twice, whatever their number: their count by
status and their sends per minute (``communications.selectors``: ``campaign_progress``,
``sends_per_minute``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from communications.admin.progress import PROGRESS_COUNTS, progress_details
from communications.models import Campaign
from communications.selectors import MINUTE, WINDOW_MINUTES, campaign_progress, sends_per_minute

TEMPLATE = "admin/communications/campaign/_charts.html"
# The stylesheet every page showing a report lists in its ``Media`` (with ``admin-extra.css``,
# which colours the progress bar).
CHARTS_CSS = "css/admin-communications.css"

# How far back the per-minute chart reaches from the campaign's last send: enough to watch a
# campaign go out, and a bound on what the page reads however long the campaign has run.

# The outcome chart's rows, in order: (key in the progress counts, bar class, indented).
# "Uncertain" rows are failed rows whose worker stopped mid-send, shown under "Failed".
OUTCOMES: list[tuple[str, str, bool]] = [
    ("sent", "sent", False),
    ("queued", "queued", False),
    ("sending", "sending", False),
    ("failed", "failed", False),
    ("uncertain", "uncertain", True),
    ("bounced", "bounced", False),
    ("complained", "complained", False),
    ("suppressed", "skipped", False),
    ("skipped_no_consent", "skipped", False),
    ("skipped_inactive", "skipped", False),
    ("skipped_unverified", "skipped", False),
    ("skipped_audience", "skipped", False),
    ("cancelled", "cancelled", False),
]
LABELS = dict(PROGRESS_COUNTS) | {"uncertain": "of which uncertain (may have arrived)"}

# The charts' drawing areas, in SVG user units (the viewBox); CSS scales them to the page.
WIDTH = 600
OUTCOME_ROW = 20
OUTCOME_BAR_X = 280
OUTCOME_BAR_WIDTH = 220
MINUTES_HEIGHT = 160
MINUTES_LEFT = 44
MINUTES_TOP = 8
MINUTES_BOTTOM = 136
MINUTES_RIGHT = WIDTH - 8
# A bar never wider than this, so a campaign of a few minutes doesn't draw slabs.
MINUTE_BAR_MAX = 24


@dataclass(frozen=True)
class Minute:
    start: datetime
    sent: int


def minutes_from(rows: list[dict]) -> list[Minute]:
    """Every minute from the first send to the last, at most ``WINDOW_MINUTES`` of them, the
    minutes without a send at zero. Counted in UTC so a change of clocks loses no minute."""
    if not rows:
        return []
    counts = {row["minute"].astimezone(UTC): row["sent"] for row in rows}
    last = max(counts)
    first = max(min(counts), last - (WINDOW_MINUTES - 1) * MINUTE)
    span = int((last - first) / MINUTE) + 1
    return [Minute(first + i * MINUTE, counts.get(first + i * MINUTE, 0)) for i in range(span)]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _share(count: int, total: int) -> str:
    percent = 100 * count / total
    if 0 < percent < 1:
        return "<1%"
    if 99 < percent < 100:
        return ">99%"
    return f"{round(percent)}%"


def outcome_chart(progress: dict[str, int]) -> dict[str, object] | None:
    """The outcome chart's rows (the outcomes that happened, each with its share of every
    delivery) and the sentence describing it; None before there is any delivery."""
    total = progress["total"]
    if not total:
        return None
    rows: list[dict[str, object]] = []
    for key, css, indented in OUTCOMES:
        count = progress[key]
        if not count:
            continue
        top = len(rows) * OUTCOME_ROW
        width = OUTCOME_BAR_WIDTH * count / total
        rows.append(
            {
                "key": key,
                "css": css,
                "label": LABELS[key],
                "count": count,
                "share": _share(count, total),
                "label_x": 14 if indented else 0,
                "text_y": top + 14,
                "bar_y": top + 4,
                "bar_width": _number(max(width, 0.5)),
                "value_x": _number(OUTCOME_BAR_X + width + 6),
            }
        )
    described = "; ".join(f"{row['label']}: {row['count']} ({row['share']})" for row in rows)
    return {
        "rows": rows,
        "total": total,
        "height": len(rows) * OUTCOME_ROW + 4,
        "bar_x": OUTCOME_BAR_X,
        "description": f"{total} deliveries. {described}.",
    }


def minutes_chart(minutes: list[Minute]) -> dict[str, object] | None:
    """The per-minute chart's bars and axis labels; None before anything was sent."""
    if not minutes:
        return None
    peak = max(minute.sent for minute in minutes)
    slot = (MINUTES_RIGHT - MINUTES_LEFT) / len(minutes)
    bar_width = min(slot * 0.8, MINUTE_BAR_MAX)
    plot_height = MINUTES_BOTTOM - MINUTES_TOP
    bars = []
    for i, minute in enumerate(minutes):
        if not minute.sent:
            continue
        height = max(plot_height * minute.sent / peak, 1)
        bars.append(
            {
                "start": minute.start,
                "sent": minute.sent,
                "x": _number(MINUTES_LEFT + i * slot + (slot - bar_width) / 2),
                "y": _number(MINUTES_BOTTOM - height),
                "width": _number(bar_width),
                "height": _number(height),
            }
        )
    return {
        "minutes": minutes,
        "bars": bars,
        "peak": peak,
        "total": sum(minute.sent for minute in minutes),
        "first": minutes[0].start,
        "end": minutes[-1].start + MINUTE,
        "left": MINUTES_LEFT,
        "right": MINUTES_RIGHT,
        "top": MINUTES_TOP,
        "bottom": MINUTES_BOTTOM,
        "label_y": MINUTES_BOTTOM + 16,
        "scale_x": MINUTES_LEFT - 6,
        "peak_y": MINUTES_TOP + 10,
    }


def campaign_report(*, campaign: Campaign) -> SafeString:
    """The campaign page's account of its sending: the bar with every count, what became of
    the deliveries, and the sends per minute. Two queries, whatever the number of rows."""
    progress = campaign_progress(campaign=campaign)
    minutes = minutes_from(list(sends_per_minute(campaign=campaign))) if progress["total"] else []
    context = {
        "chart_id": f"campaign-{campaign.pk}",
        "width": WIDTH,
        "minutes_height": MINUTES_HEIGHT,
        "outcomes": outcome_chart(progress),
        "per_minute": minutes_chart(minutes),
        "window": WINDOW_MINUTES,
    }
    return progress_details(progress) + render_to_string(TEMPLATE, context)
