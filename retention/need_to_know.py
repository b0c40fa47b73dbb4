"""Who sees which personal field of the retention app's models (``privacy_site.need_to_know``).

A legal hold names a person and says why their data is held: the Privacy Officer's alone.
Run records name nobody."""

from __future__ import annotations

from privacy_site.need_to_know import declare, seen_by
from privacy_site.roles import PRIVACY_OFFICER

declare(
    "retention.LegalHold",
    person=seen_by(PRIVACY_OFFICER),
    reason=seen_by(PRIVACY_OFFICER),
    release_reason=seen_by(PRIVACY_OFFICER),
)
