"""What must still hold after a fault, whatever was broken: the product's promises, checked in
the database and against what the mail server received.

``assert_invariants(since=...)`` checks three things and fails with every violation it found:

(a) Nobody received an email without what it needed. Every delivery row changed since
    ``since`` that may have reached someone (sent, bounced, complained, or failed
    *uncertain*) is checked against the gate's rules (``communications.gate``) as they stood
    at send time, read from the records rather than from the current state:

    - marketing kinds: the consent ledger granted the kind's purpose, under the version
      that introduced it or later, at some moment between the row's claim and its
      hand-over (the gate asks right after the claim; a decision recorded during the
      hand-over is the race the policy allows);
    - every kind: the address was not on the suppression list before the row was claimed,
      and the account was not deactivated before it;
    - marketing, service and notice kinds: the account's address is not waiting for
      verification (it still is, so it was then).

    Notices are not checked against their audience here: no scenario of the fault suite
    sends one. With ``received`` (what the mail server got since ``since``, by address) it
    also checks that no address got more messages than rows went to it (nothing sent twice,
    nothing sent unrecorded), and that every row marked sent was received (nothing marked
    sent that did not arrive).

(b) The current-consent table is the fold of the consent ledger: for every subject and
    purpose, the current row is the ledger's last event (by id), with its decision and
    legal basis, and there is a current row exactly where there is an event. Checked over
    the whole ledger, in one query, whatever ``since`` says.

(c) Every change the fault scenarios cause has its record, for changes since ``since``:

    - a suppression from the provider (hard bounce, complaint, rejection, soft bounces)
      names a provider event that is recorded and processed; one added by staff has its
      marketing event;
    - a delivery marked bounced or complained has the processed provider event that did it;
    - a consent withdrawal from the provider (unsubscribe, complaint) has a processed
      provider event for that person;
    - a processed provider event that says it suppressed an address left it suppressed (or
      lifted by staff, on the record);
    - a delivery marked sent has its time, its message id and its claim released;
    - a campaign that started sending has the marketing event that started it, and a
      completed one has no row left to send;
    - an account deactivated has its audit row (``accounts.AuditEvent``, field
      ``is_active``).

    Changes to personal data through the profile, and staff access, are audited by their
    own services and tested with them (tests/accounts, tests/staff_access): no fault
    scenario makes them.

``assert_no_5xx_outside`` checks the HTTP answers a scenario collected: no server error
outside the window in which the fault was injected.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q

from accounts.models import AuditEvent
from communications.addresses import address_hash
from communications.event_models import MarketingEvent
from communications.kinds import Category, rule_for
from communications.models import (
    UNCERTAIN_PREFIX,
    Campaign,
    Delivery,
    ProviderEvent,
    Suppression,
    SuppressionLift,
)
from consent.models import ConsentEvent, CurrentConsent, Purpose
from consent.services import ConsentSource

Status = Delivery.Status
# Rows that may have reached their recipient.
WENT = (Status.SENT, Status.BOUNCED, Status.COMPLAINED)
PROVIDER_REASONS = {
    Suppression.Reason.HARD_BOUNCE,
    Suppression.Reason.COMPLAINT,
    Suppression.Reason.REJECTED,
    Suppression.Reason.SOFT_BOUNCES,
}
PROVIDER_SOURCES = {ConsentSource.PROVIDER_UNSUBSCRIBE, ConsentSource.PROVIDER_COMPLAINT}
# How a provider suppression names its event: "<esp> event <event id>" (see provider_events).
_NAMED_EVENT = re.compile(r"(\S+) event (\S+)$")
ROW_FIELDS = (
    "id", "kind", "campaign_id", "user_id", "to_email", "status", "last_error", "claimed_at",
    "sent_at", "updated_at", "provider_message_id",
)  # fmt: skip
SHOWN = 10  # violations of one kind shown in a failure; the count says how many there were


def assert_invariants(*, since: datetime, received: Mapping[str, int] | None = None) -> None:
    """Fail with every broken promise found (see the module's docstring). ``since``: when the
    scenario began (rows changed since then are checked); ``received``: what the mail server
    received in that time, messages by address (``received_by_address``), if the scenario
    sent mail through a server it can read."""
    problems: dict[str, list[str]] = {}
    for name, check in (
        ("sent without what it needed", lambda: _gate_held(since, received)),
        ("current consent is not the fold of the ledger", _fold_holds),
        ("change without its record", lambda: _changes_recorded(since)),
    ):
        found = check()
        if found:
            problems[name] = found
    if problems:
        lines = []
        for name, found in problems.items():
            lines.append(f"{name}: {len(found)}")
            lines.extend(f"  - {line}" for line in found[:SHOWN])
            if len(found) > SHOWN:
                lines.append(f"  ... and {len(found) - SHOWN} more")
        raise AssertionError("invariants broken:\n" + "\n".join(lines))


def received_by_address(messages: Iterable) -> Counter[str]:
    """Messages by recipient address (lower case), from ``tests.harness.smtp`` messages."""
    return Counter(address.lower() for message in messages for address in message.rcpt_tos)


def assert_no_5xx_outside(
    answers: Sequence[tuple[float, int]], *, window: tuple[float, float] | None = None
) -> None:
    """``answers``: (time.monotonic() when the request was made, HTTP status; 0 for no
    answer). None may be a server error or unanswered, except within ``window`` (start,
    end), when the fault was injected."""
    outside = [
        (at, status)
        for at, status in answers
        if (status >= 500 or status == 0) and not (window and window[0] <= at <= window[1])
    ]
    assert not outside, f"{len(outside)} server errors outside the fault: {outside[:SHOWN]}"


# --- (a) What was sent, against the gate at send time -----------------------------------------


def _gate_held(since: datetime, received: Mapping[str, int] | None) -> list[str]:
    rows = list(
        Delivery.objects.filter(updated_at__gte=since)
        .filter(
            Q(status__in=WENT)
            | Q(status=Status.FAILED, last_error__startswith=UNCERTAIN_PREFIX)
            | Q(sent_at__isnull=False)
        )
        .values(*ROW_FIELDS)
    )
    users = {
        user["id"]: user
        for user in get_user_model()
        .objects.filter(pk__in={row["user_id"] for row in rows if row["user_id"]})
        .values("id", "email", "is_active", "deactivated_at")
    }
    for row in rows:
        user = users.get(row["user_id"])
        row["address"] = (row["to_email"] or (user["email"] if user else "")).lower()
    problems: list[str] = []
    problems += _consent_held(rows)
    problems += _not_suppressed_or_gone(rows, users)
    problems += _verified(rows, users)
    if received is not None:
        problems += _received_matches(rows, received, since)
    return problems


def _consent_held(rows: list[dict]) -> list[str]:
    """Marketing rows: consent for the purpose in force at some moment of the send."""
    marketing = [row for row in rows if rule_for(row["kind"]).is_marketing and row["user_id"]]
    if not marketing:
        return []
    purposes = {
        purpose.code: purpose
        for purpose in Purpose.objects.select_related("introduced_in").filter(
            code__in={rule_for(row["kind"]).purpose for row in marketing}
        )
    }
    ledger: dict[tuple[int, str], list[tuple[datetime, bool, int]]] = defaultdict(list)
    for subject_id, code, occurred_at, granted, version in (
        ConsentEvent.objects.filter(
            subject_id__in={row["user_id"] for row in marketing}, purpose__code__in=purposes
        )
        .order_by("id")
        .values_list(
            "subject_id", "purpose__code", "occurred_at", "granted", "policy_version__number"
        )
    ):
        ledger[(subject_id, code)].append((occurred_at, granted, version))
    problems = []
    for row in marketing:
        code = rule_for(row["kind"]).purpose
        assert code is not None
        purpose = purposes[code]
        began = row["claimed_at"] or row["updated_at"]
        ended = row["sent_at"] or row["updated_at"]
        events = ledger.get((row["user_id"], code), [])

        def usable(granted: bool, version: int, purpose: Purpose = purpose) -> bool:
            return granted and version >= purpose.introduced_in.number

        in_force = [event for event in events if event[0] <= began]
        during = [event for event in events if began < event[0] <= ended]
        if not (
            (in_force and usable(*in_force[-1][1:]))
            or any(usable(granted, version) for _, granted, version in during)
        ):
            state = (
                f"last decision {'granted' if in_force[-1][1] else 'withdrawn'} "
                f"under v{in_force[-1][2]}"
                if in_force
                else "no decision"
            )
            problems.append(
                f"delivery {row['id']} ({row['kind']}, {row['status']}) to user {row['user_id']}: "
                f"{state} for {code} when claimed at {began:%H:%M:%S.%f}"
            )
    return problems


def _not_suppressed_or_gone(rows: list[dict], users: dict[int, dict]) -> list[str]:
    hashes = {row["id"]: address_hash(row["address"]) for row in rows if row["address"]}
    suppressed_at = dict(
        Suppression.objects.filter(address_hash__in=set(hashes.values())).values_list(
            "address_hash", "created_at"
        )
    )
    problems = []
    for row in rows:
        began = row["claimed_at"] or row["updated_at"]
        at = suppressed_at.get(hashes.get(row["id"], ""))
        if at is not None and at < began:
            problems.append(
                f"delivery {row['id']} ({row['kind']}) claimed at {began:%H:%M:%S.%f}, its "
                f"address suppressed since {at:%H:%M:%S.%f}"
            )
        user = users.get(row["user_id"])
        deactivated = user and not user["is_active"] and user["deactivated_at"]
        if deactivated and deactivated < began:
            problems.append(
                f"delivery {row['id']} ({row['kind']}) to user {row['user_id']}, "
                "deactivated before it was claimed"
            )
        if not row["user_id"] and not rule_for(row["kind"]).to_address and row["address"]:
            problems.append(f"delivery {row['id']} ({row['kind']}) went to an address alone")
    return problems


def _verified(rows: list[dict], users: dict[int, dict]) -> list[str]:
    held_back = {
        row["id"]: row
        for row in rows
        if row["user_id"] and rule_for(row["kind"]).category is not Category.TRANSACTIONAL
    }
    if not held_back:
        return []
    pending = set(
        EmailAddress.objects.filter(
            user_id__in={row["user_id"] for row in held_back.values()}, verified=False
        ).values_list("user_id", "email")
    )
    return [
        f"delivery {row['id']} ({row['kind']}) to user {row['user_id']}, whose address is "
        "still waiting for verification"
        for row in held_back.values()
        if (row["user_id"], users[row["user_id"]]["email"]) in pending
        or (row["user_id"], users[row["user_id"]]["email"].lower()) in pending
    ]


def _received_matches(rows: list[dict], received: Mapping[str, int], since: datetime) -> list[str]:
    went: Counter[str] = Counter()
    marked_sent: Counter[str] = Counter()
    for row in rows:
        went[row["address"]] += 1
        if row["status"] == Status.SENT:
            marked_sent[row["address"]] += 1
    problems = []
    for address, count in received.items():
        if count > went[address.lower()]:
            problems.append(
                f"{address} received {count} messages; {went[address.lower()]} rows went to it"
            )
    for address, count in marked_sent.items():
        if received.get(address, 0) < count:
            problems.append(
                f"{count} rows to {address} marked sent; the server received "
                f"{received.get(address, 0)}"
            )
    return problems


# --- (b) The fold of the ledger ----------------------------------------------------------------


def _fold_holds() -> list[str]:
    events, current = ConsentEvent._meta.db_table, CurrentConsent._meta.db_table
    # Only the models' own table names are interpolated.
    sql = f"""
        WITH last AS (
            SELECT DISTINCT ON (subject_id, purpose_id)
                   id, subject_id, purpose_id, granted, legal_basis
              FROM {events}
             ORDER BY subject_id, purpose_id, id DESC
        )
        SELECT coalesce(l.subject_id, c.subject_id), coalesce(l.purpose_id, c.purpose_id),
               l.id, l.granted, l.legal_basis, c.event_id, c.granted, c.legal_basis
          FROM last l
          FULL OUTER JOIN {current} c
            ON c.subject_id = l.subject_id AND c.purpose_id = l.purpose_id
         WHERE l.id IS DISTINCT FROM c.event_id
            OR l.granted IS DISTINCT FROM c.granted
            OR l.legal_basis IS DISTINCT FROM c.legal_basis
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        found = cursor.fetchall()
    return [
        f"subject {subject} purpose {purpose}: ledger says event {event} "
        f"({granted}, {basis}); current row says event {c_event} ({c_granted}, {c_basis})"
        for subject, purpose, event, granted, basis, c_event, c_granted, c_basis in found
    ]


# --- (c) Every change has its record -----------------------------------------------------------


def _changes_recorded(since: datetime) -> list[str]:
    return [
        *_suppressions_recorded(since),
        *_provider_effects_recorded(since),
        *_sent_rows_recorded(since),
        *_campaigns_recorded(since),
        *_deactivations_audited(since),
    ]


def _suppressions_recorded(since: datetime) -> list[str]:
    problems = []
    for suppression in Suppression.objects.filter(created_at__gte=since):
        if suppression.reason in PROVIDER_REASONS:
            named = _NAMED_EVENT.search(suppression.detail)
            found = named and ProviderEvent.objects.filter(
                esp_name=named.group(1), event_id=named.group(2), processed_at__isnull=False
            )
            if not found or not found.exists():
                problems.append(
                    f"suppression {suppression.pk} ({suppression.reason}) names no processed "
                    f"provider event: {suppression.detail!r}"
                )
        elif (
            suppression.reason == Suppression.Reason.MANUAL
            and not MarketingEvent.objects.filter(
                kind=MarketingEvent.Kind.ADDRESS_SUPPRESSED, address_hash=suppression.address_hash
            ).exists()
        ):
            problems.append(f"suppression {suppression.pk} by staff has no marketing event")
    return problems


def _provider_effects_recorded(since: datetime) -> list[str]:
    problems = []
    marked = Delivery.objects.filter(
        updated_at__gte=since, status__in=[Status.BOUNCED, Status.COMPLAINED]
    ).exclude(events__processed_at__isnull=False)
    problems += [
        f"delivery {pk} marked {status} with no processed provider event"
        for pk, status in marked.values_list("pk", "status")
    ]
    withdrawals = ConsentEvent.objects.filter(
        occurred_at__gte=since, source__in=PROVIDER_SOURCES, granted=False
    ).select_related("subject")
    for event in withdrawals:
        told = ProviderEvent.objects.filter(processed_at__isnull=False).filter(
            Q(delivery__user_id=event.subject_id)
            | Q(recipient_hash=address_hash(event.subject.email))
        )
        if not told.exists():
            problems.append(
                f"consent event {event.pk} ({event.source}) for subject {event.subject_id} with "
                "no processed provider event for them"
            )
    suppressing = ProviderEvent.objects.filter(
        processed_at__gte=since, outcome__contains="suppressed"
    ).select_related("delivery__user")
    lifted = set(
        SuppressionLift.objects.filter(lifted_at__gte=since).values_list("address_hash", flat=True)
    )
    for event in suppressing:
        hashed = event.recipient_hash or (
            address_hash(event.delivery.user.email)
            if event.delivery and event.delivery.user
            else ""
        )
        if hashed in lifted:
            continue
        if not Suppression.objects.filter(address_hash=hashed).exists():
            problems.append(
                f"provider event {event.pk} says {event.outcome!r}; the address is not suppressed"
            )
    return problems


def _sent_rows_recorded(since: datetime) -> list[str]:
    incomplete = Delivery.objects.filter(updated_at__gte=since, status=Status.SENT).filter(
        Q(sent_at__isnull=True)
        | Q(provider_message_id="")
        | Q(attempts=0)
        | Q(claim_id__isnull=False)
    )
    return [
        f"delivery {pk} marked sent without its time, message id, try or with its claim held"
        for pk in incomplete.values_list("pk", flat=True)[:100]
    ]


def _campaigns_recorded(since: datetime) -> list[str]:
    problems = []
    started = Campaign.objects.filter(updated_at__gte=since, started_at__isnull=False)
    for campaign in started:
        if not MarketingEvent.objects.filter(
            campaign=campaign, kind=MarketingEvent.Kind.CAMPAIGN_SENDING
        ).exists():
            problems.append(f"campaign {campaign.pk} started sending with no marketing event")
        if campaign.status == Campaign.Status.COMPLETED:
            left = campaign.deliveries.filter(status__in=[Status.QUEUED, Status.SENDING]).count()
            if left or campaign.completed_at is None:
                problems.append(
                    f"campaign {campaign.pk} completed with {left} rows still to send "
                    f"(completed_at {campaign.completed_at})"
                )
    return problems


def _deactivations_audited(since: datetime) -> list[str]:
    deactivated = get_user_model().objects.filter(deactivated_at__gte=since)
    audited = set(
        AuditEvent.objects.filter(occurred_at__gte=since, field="is_active").values_list(
            "subject_id", flat=True
        )
    )
    return [
        f"user {pk} deactivated with no audit row"
        for pk in deactivated.values_list("pk", flat=True)
        if pk not in audited
    ]
