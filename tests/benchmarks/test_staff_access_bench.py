"""The cost of the staff access record (``make bench``): the admin's list of 100 customers,
with the audit and without it (its note switched off), interleaved in one run. Printed, with N,
the queries and the machine, for docs/PERFORMANCE.md."""

from __future__ import annotations

import os
import platform
import statistics
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from staff_access import admin_audit
from staff_access.models import StaffAccess
from staff_access.services import record_access
from tests.factories import UserFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.bench

RUNS = int(os.environ.get("BENCH_ADMIN_PAGES", "30"))
CUSTOMERS = "/admin/accounts/user/"


def _load(client) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(CUSTOMERS)
        took = time.perf_counter() - started
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 100
    return took, len(queries.captured_queries)


def test_the_audit_adds_one_insert_to_a_list_of_100_customers(db, superuser, monkeypatch):
    UserFactory.create_batch(120)
    client = logged_in(superuser)
    _load(client)  # warm-up: templates, permissions, the connection

    audited, plain = [], []
    audited_queries, plain_queries = [], []
    for run in range(RUNS):
        # interleaved, each going first in turn, so drift and warm caches hit both alike
        for audit in (True, False) if run % 2 else (False, True):
            if audit:
                took, queries = _load(client)
                audited.append(took)
                audited_queries.append(queries)
                continue
            with monkeypatch.context() as patch:
                patch.setattr(admin_audit, "note_access", lambda *args, **kwargs: None)
                took, queries = _load(client)
            plain.append(took)
            plain_queries.append(queries)

    rows = StaffAccess.objects.filter(page="admin:accounts_user_changelist")
    assert rows.count() == RUNS + 1
    assert all(row.subject_count == 100 for row in rows)
    people = list(rows.values_list("subject_ids", flat=True)[0])
    inserts = []
    for _ in range(RUNS * 10):  # the row alone: one INSERT naming 100 people
        started = time.perf_counter()
        record_access(
            staff=superuser,
            action=StaffAccess.Action.LIST,
            page="admin:accounts_user_changelist",
            subject_ids=people,
            fields=["email", "first_name", "last_name", "is_staff"],
        )
        inserts.append(time.perf_counter() - started)
    insert_ms = statistics.median(inserts) * 1000
    with_ms, without_ms = statistics.median(audited) * 1000, statistics.median(plain) * 1000
    print(
        f"\nadmin list of 100 customers, N={RUNS} each, {platform.machine()} "
        f"{os.cpu_count()} cores: without the audit median {without_ms:.1f} ms "
        f"({min(plain_queries)} queries), with it {with_ms:.1f} ms "
        f"({min(audited_queries)} queries; a session refresh adds 2 once a minute), "
        f"{with_ms - without_ms:+.1f} ms, ratio {with_ms / without_ms:.2f}; the row alone "
        f"(N={RUNS * 10}) median {insert_ms:.2f} ms"
    )
