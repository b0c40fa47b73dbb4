"""Consent benchmarks (``make bench``): audience selection on a million subjects, and the
query budget of saving preferences. Figures are printed and written to var/bench/consent.json;
docs/PERFORMANCE.md records them with the command and the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consent.models import Purpose
from consent.selectors import audience_for
from consent.services import record_decisions

pytestmark = pytest.mark.bench

SUBJECTS = int(os.environ.get("BENCH_SUBJECTS", "1000000"))
BATCH = 1000


def _seed(subjects: int) -> dict[str, int]:
    """Insert ``subjects`` users with mixed consents straight in SQL (the services would take
    hours at this size; what is measured is reading, not writing). About half grant the
    newsletter, a quarter withdrew it, a quarter never answered; 2% are deactivated."""
    purpose_ids = dict(Purpose.objects.values_list("code", "id"))
    newsletter = purpose_ids[Purpose.NEWSLETTER]
    offers = purpose_ids[Purpose.SPECIAL_OFFERS]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (email, first_name, last_name, password, is_staff,
                                       is_superuser, is_active, date_joined)
            SELECT 'bench' || g || '@customers.example', 'Bench', 'Subject', '!', false, false,
                   (g %% 50) <> 0, now()
            FROM generate_series(1, %s) AS g
            """,
            [subjects],
        )
        cursor.execute("SELECT id FROM consent_policyversion WHERE is_current")
        (version,) = cursor.fetchone()
        for purpose, modulus in ((newsletter, 4), (offers, 3)):
            # Users whose (id % 4) is 0 or 1 granted, 2 withdrew, 3 never answered.
            cursor.execute(
                """
                INSERT INTO consent_consentevent (subject_id, purpose_id, granted, legal_basis,
                    source, policy_version_id, wording, occurred_at, ip_address, user_agent)
                SELECT u.id, %s, (u.id %% %s) < 2, 'consent', 'import', %s, 'bench', now(),
                       NULL, ''
                FROM accounts_user u
                WHERE u.email LIKE 'bench%%' AND (u.id %% %s) < 3
                """,
                [purpose, modulus, version, modulus],
            )
            cursor.execute(
                """
                INSERT INTO consent_currentconsent (subject_id, purpose_id, granted,
                    legal_basis, event_id, updated_at)
                SELECT e.subject_id, e.purpose_id, e.granted, e.legal_basis, e.id, e.occurred_at
                FROM consent_consentevent e WHERE e.purpose_id = %s AND e.source = 'import'
                """,
                [purpose],
            )
        # Committed and vacuumed, as autovacuum leaves a live table: index-only scans can
        # skip the heap for all-visible pages.
        cursor.execute("VACUUM ANALYZE accounts_user, consent_consentevent, consent_currentconsent")
        cursor.execute(
            "SELECT count(*) FROM consent_currentconsent WHERE purpose_id = %s AND granted",
            [newsletter],
        )
        (granted,) = cursor.fetchone()
    return {"subjects": subjects, "newsletter_granted_rows": granted}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _summary(timings: list[float]) -> dict[str, float]:
    ms = [t * 1000 for t in timings]
    return {
        "batches": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(_percentile(ms, 0.95), 3),
        "p99_ms": round(_percentile(ms, 0.99), 3),
        "max_ms": round(max(ms), 3),
        "slowest_batch": ms.index(max(ms)),
        "batches_over_20ms": sum(1 for t in ms if t >= 20),
    }


def _write(results: dict) -> None:
    out = Path(settings.BASE_DIR) / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "consent.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def test_audience_selection_keyset_batches_on_a_million_subjects(transactional_db):
    # given
    seeded = _seed(SUBJECTS)
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER)

    # when: walk the whole audience in keyset batches of 1,000
    keyset, after, selected = [], 0, 0
    while True:
        started = time.perf_counter()
        batch = list(audience_for(purpose=newsletter, after=after, limit=BATCH))
        keyset.append(time.perf_counter() - started)
        if not batch:
            break
        selected += len(batch)
        after = batch[-1]

    # baseline, same run, same query: OFFSET pagination, sampled at 20 depths
    offsets = []
    step = max(BATCH, (selected // 20) // BATCH * BATCH)
    for offset in range(0, selected, step):
        started = time.perf_counter()
        rows = list(
            audience_for(purpose=newsletter, after=0, limit=offset + BATCH)[offset : offset + BATCH]
        )
        offsets.append(time.perf_counter() - started)
        assert rows

    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "postgres": connection.cursor().connection.server_version,
        **seeded,
        "selected": selected,
        "keyset": _summary(keyset),
        "offset_baseline": _summary(offsets),
    }
    _write(results)

    # then
    expected = sum(1 for i in range(1, SUBJECTS + 1) if i % 4 < 2 and i % 50 != 0)
    assert abs(selected - expected) <= SUBJECTS * 0.01  # ids start where the sequence is
    assert results["keyset"]["max_ms"] < 20, results["keyset"]


def test_saving_preferences_is_one_transaction_of_at_most_five_queries(transactional_db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench.prefs@customers.example", None)
    choices = {
        Purpose.NEWSLETTER: True,
        Purpose.SPECIAL_OFFERS: True,
        Purpose.SURVEYS: False,
        Purpose.PARTNER_PHOTO: True,
    }
    with CaptureQueriesContext(connection) as queries:
        record_decisions(subject=user, choices=choices, source="preference_centre")
    statements = [q["sql"] for q in queries]
    # then: one transaction around at most five statements
    assert statements[0] == "BEGIN" and statements[-1] == "COMMIT", statements
    assert statements.count("BEGIN") == 1, statements
    assert len(statements) - 2 <= 5, statements
