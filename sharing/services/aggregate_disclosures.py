"""Recording aggregate figures given to a party: the disclosure log's path for what concerns
no person (``record_disclosure`` refuses any personal data to an aggregate-only party; this
records the figures that party may have, so that what it received is on the record too)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from privacy_site.auth_user import AuthUser
from sharing.models import DisclosurePurpose, ThirdParty
from sharing.report_models import AggregateDisclosure, AggregateReport

from .disclosures import REFERENCE_MAX, DisclosureRefused, Rule


@transaction.atomic
def record_aggregate_disclosure(
    *,
    party: ThirdParty,
    report: AggregateReport,
    reference: str,
    description: str,
    actor: AuthUser | None,
) -> AggregateDisclosure:
    """Log that ``party`` received ``report`` (figures that identify no one), by staff
    ``actor`` or, with none, the scheduled job. Raises ``DisclosureRefused`` (nothing
    written) when the register doesn't list the party for aggregate statistics, the party is
    not active today, the actor is not active staff, or there is no reference."""
    reference = reference.strip()
    if not reference or len(reference) > REFERENCE_MAX:
        raise DisclosureRefused(
            Rule.REFERENCE_REQUIRED,
            f"give the report the figures are from, in at most {REFERENCE_MAX} characters.",
        )
    if actor is not None and not (actor.is_active and actor.is_staff):
        raise DisclosureRefused(
            Rule.ACTOR_NOT_STAFF, "only an active member of staff may give a party figures."
        )
    now = timezone.now()
    today = timezone.localdate(now)
    current = ThirdParty.objects.get(pk=party.pk)
    if DisclosurePurpose.AGGREGATE_STATISTICS not in current.purposes:
        raise DisclosureRefused(
            Rule.PURPOSE_NOT_REGISTERED,
            f"{current.name} is not registered to receive aggregate statistics.",
        )
    if not current.is_active_on(today):
        raise DisclosureRefused(
            Rule.PARTY_NOT_ACTIVE, f"{current.name} may not receive data on {today:%d %b %Y}."
        )
    return AggregateDisclosure.objects.create(
        party=current,
        purpose=DisclosurePurpose.AGGREGATE_STATISTICS,
        report=report,
        reference=reference,
        description=description,
        actor=actor,
        occurred_at=now,
    )
