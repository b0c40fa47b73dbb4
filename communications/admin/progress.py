"""A campaign's progress as staff see it: a bar and its figures, drawn by
``admin/communications/campaign/_progress.html``.

The bar is SVG with geometry attributes, not style attributes (the Content-Security-Policy
allows no inline style), hidden from screen readers, with the same facts as text beside it.
"""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from communications.models import Delivery

DeliveryStatus = Delivery.Status
TEMPLATE = "admin/communications/campaign/_progress.html"

# The bar's segments, in order, and the statuses each counts. Queued and sending rows are the
# unfilled rest of the bar.
BAR_SEGMENTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("sent", "sent", (DeliveryStatus.SENT,)),
    ("failed", "failed", (DeliveryStatus.FAILED,)),
    ("bounced", "bounced", (DeliveryStatus.BOUNCED,)),
    ("complained", "complained", (DeliveryStatus.COMPLAINED,)),
    (
        "skipped",
        "suppressed or skipped",
        (
            DeliveryStatus.SUPPRESSED,
            DeliveryStatus.SKIPPED_NO_CONSENT,
            DeliveryStatus.SKIPPED_INACTIVE,
            DeliveryStatus.SKIPPED_UNVERIFIED,
            DeliveryStatus.SKIPPED_AUDIENCE,
        ),
    ),
    ("cancelled", "cancelled", (DeliveryStatus.CANCELLED,)),
]
# What the change page lists under the bar: every count staff act on.
PROGRESS_COUNTS: list[tuple[str, str]] = [
    ("total", "Recipients so far"),
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("uncertain", "Uncertain (may have arrived)"),
    ("bounced", "Bounced"),
    ("complained", "Complained"),
    ("unsubscribed", "Unsubscribed"),
    ("suppressed", "Suppressed"),
    ("skipped_no_consent", "Skipped: no consent"),
    ("skipped_inactive", "Skipped: account deactivated or gone"),
    ("skipped_unverified", "Skipped: address not verified"),
    ("skipped_audience", "Skipped: not in the notice's audience"),
    ("cancelled", "Cancelled"),
]


def _segments(progress: dict[str, int]) -> list[dict[str, object]]:
    """Each non-empty segment with its start and width in hundredths of the bar."""
    total = progress["total"]
    segments = []
    start = 0.0
    for css, label, statuses in BAR_SEGMENTS:
        count = sum(progress[s] for s in statuses)
        if total and count:
            width = 100 * count / total
            segments.append(
                {
                    "css": css,
                    "x": f"{start:.2f}",
                    "width": f"{width:.2f}",
                    "count": count,
                    "label": label,
                }
            )
            start += width
    return segments


def _summary(progress: dict[str, int]) -> str:
    total = progress["total"]
    if not total:
        return "No recipients yet"
    done = total - progress["queued"] - progress["sending"]
    return f"{progress['sent']} of {total} sent, {done} of {total} finished"


def _render(progress: dict[str, int], *, counts: bool) -> SafeString:
    context = {
        "segments": _segments(progress),
        "summary": _summary(progress),
        "counts": [(label, progress[key]) for key, label in PROGRESS_COUNTS] if counts else None,
    }
    return render_to_string(TEMPLATE, context)


def progress_bar(progress: dict[str, int]) -> SafeString:
    """The bar and its one-line summary (the campaign list's column)."""
    return _render(progress, counts=False)


def progress_details(progress: dict[str, int]) -> SafeString:
    """The bar, its summary and every count (the campaign's page)."""
    return _render(progress, counts=True)
