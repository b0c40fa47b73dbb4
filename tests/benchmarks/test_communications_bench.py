"""Campaign sending benchmarks (``make bench``): a campaign end to end on real workers.

Each benchmark seeds subjects with mixed newsletter consents in SQL, starts real Celery worker
processes on PostgreSQL and Redis, and times a campaign from ``send_campaign_now`` to the
campaign *completed*: every recipient handed to the email backend and every delivery row
recorded. The sink behind the backend counts what it received, and must have received exactly
the consenting, active, unsuppressed recipients. A thread samples the RSS of every worker
process (prefork children included) from /proc all along.

- anymail batch sending to ``tests.harness.anymail_sink`` (anymail's test backend without its
  outbox), ``BENCH_CAMPAIGN_SUBJECTS`` subjects (100,000); in the same test, the baseline:
  django-post_office queueing the same recipients with per-recipient rendering, then sending
  them with its own ``send_queued_mail`` to the same sink;
- one MIME message per recipient over SMTP to ``tests.harness.smtp_sink``,
  ``BENCH_SMTP_SUBJECTS`` subjects (100,000), against the same baseline (measured again only
  if no case before it measured one for as many subjects);
- anymail batch sending to ``BENCH_CAMPAIGN_LARGE_SUBJECTS`` subjects (default
  ``BENCH_SUBJECTS``, else 1,000,000): completes, and no worker process exceeds 150 MB RSS.

Targets: anymail batches at 12 times post_office's rate in the same run, SMTP at 8 times.
Each case also reports its time and CPU per recipient, to compare sizes.

``BENCH_WORKERS`` lays out the workers: ``2x1`` (default, the fastest measured) is two workers
of one prefork child each, ``1x2`` one worker with two. Run with
``--ds privacy_site.settings_bench`` (``make bench`` does) for post_office's tables. Figures
are printed and written to var/bench/communications.json; docs/PERFORMANCE.md records them.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from communications.addresses import address_hash
from communications.gate import gate_batch
from communications.models import Campaign, Suppression
from communications.rendering import campaign_template, list_unsubscribe_headers, merge_values
from communications.services import campaign_progress, create_campaign, send_campaign_now
from consent.models import Purpose
from consent.selectors import audience_for
from tests.harness import anymail_sink, smtp_sink
from tests.harness.worker import ROOT, WorkerProcess

pytestmark = pytest.mark.bench

SUBJECTS = int(os.environ.get("BENCH_CAMPAIGN_SUBJECTS", "100000"))
SMTP_SUBJECTS = int(os.environ.get("BENCH_SMTP_SUBJECTS", "100000"))
LARGE_SUBJECTS = int(
    os.environ.get("BENCH_CAMPAIGN_LARGE_SUBJECTS", os.environ.get("BENCH_SUBJECTS", "1000000"))
)
WORKERS = os.environ.get("BENCH_WORKERS", "2x1")
# Targets, as multiples of django-post_office's rate measured in the same run.
BATCH_RATIO_TARGET = 12  # anymail batch sending
SMTP_RATIO_TARGET = 8  # one MIME message each over SMTP
RSS_LIMIT_MB = 150
SINK_BACKEND = "tests.harness.anymail_sink.EmailBackend"
# Every 199th subject's address is on the suppression list: the gate must hold them back.
SUPPRESSED_MODULUS, SUPPRESSED_REMAINDER = 199, 7

BODY = """\
# Spring in the darkroom, {{ first_name }}

Our spring catalogue is out: new film stock, two new mirrorless bodies and a lens trade-in
that runs until the end of the month. [Browse the catalogue](https://shop.example/spring).

## This month's picks

- **Portra 400, five-pack**: back in stock in every store, and online while it lasts.
- **The 35 mm f/1.8 prime**: our most-returned-for-another-one lens, now with a free hood.
- **Print your year**: photo books from 30 pages, printed by our partner lab in five days.

## Workshops near you

Night photography, film developing for beginners and a portrait afternoon with a working
photographer: [book a place](https://shop.example/workshops) before they fill up.

Happy shooting, and thank you for reading.

*The team at the shop*
"""


# --- Seeding ------------------------------------------------------------------------------------


def _seed(subjects: int) -> dict[str, int]:
    """Insert ``subjects`` users with mixed newsletter consents straight in SQL, as the consent
    benchmark does (the services would take hours; what is measured is sending). Users whose
    id % 4 is 0 or 1 granted, 2 withdrew, 3 never answered; 2% are deactivated; every 199th
    address is suppressed. The ledger and the current-consent table agree row for row."""
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER).pk
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (email, first_name, last_name, password, is_staff,
                                       is_superuser, is_active, date_joined)
            SELECT 'subject' || g || '@customers.example',
                   (ARRAY['Ann', 'Bob', 'Chloé', 'Dev', 'Eun-ji', ''])[1 + g %% 6],
                   'Subject', '!', false, false, (g %% 50) <> 0, now()
            FROM generate_series(1, %s) AS g
            """,
            [subjects],
        )
        cursor.execute("SELECT id FROM consent_policyversion WHERE is_current")
        (version,) = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO consent_consentevent (subject_id, purpose_id, granted, legal_basis,
                source, policy_version_id, wording, occurred_at, ip_address, user_agent)
            SELECT u.id, %s, (u.id %% 4) < 2, 'consent', 'import', %s, 'bench', now(), NULL, ''
            FROM accounts_user u
            WHERE u.email LIKE 'subject%%' AND (u.id %% 4) < 3
            """,
            [newsletter, version],
        )
        cursor.execute(
            """
            INSERT INTO consent_currentconsent (subject_id, purpose_id, granted, legal_basis,
                event_id, updated_at)
            SELECT e.subject_id, e.purpose_id, e.granted, e.legal_basis, e.id, e.occurred_at
            FROM consent_consentevent e WHERE e.purpose_id = %s AND e.source = 'import'
            """,
            [newsletter],
        )
        # The hash communications.addresses.address_hash computes, in SQL (checked below).
        cursor.execute(
            """
            INSERT INTO communications_suppression (address_hash, reason, detail, created_at)
            SELECT encode(sha256(convert_to('privacy-site.suppression.v1:' || lower(u.email),
                                            'UTF8')), 'hex'), 'hard_bounce', 'bench', now()
            FROM accounts_user u
            WHERE u.email LIKE 'subject%%' AND u.id %% %s = %s
            """,
            [SUPPRESSED_MODULUS, SUPPRESSED_REMAINDER],
        )
        cursor.execute("VACUUM ANALYZE accounts_user, consent_consentevent, consent_currentconsent")
        cursor.execute("VACUUM ANALYZE communications_suppression, communications_delivery")
        cursor.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE u.id %% %s = %s)
            FROM consent_currentconsent c JOIN accounts_user u ON u.id = c.subject_id
            WHERE c.purpose_id = %s AND c.granted AND u.is_active
            """,
            [SUPPRESSED_MODULUS, SUPPRESSED_REMAINDER, newsletter],
        )
        audience, suppressed = cursor.fetchone()
    first = get_user_model().objects.filter(email__startswith="subject").order_by("pk")
    suppressed_user = next(
        u for u in first[:SUPPRESSED_MODULUS] if u.pk % SUPPRESSED_MODULUS == SUPPRESSED_REMAINDER
    )
    assert Suppression.objects.filter(address_hash=address_hash(suppressed_user.email)).exists()
    return {
        "subjects": subjects,
        "audience": audience,
        "suppressed_in_audience": suppressed,
        "expected_recipients": audience - suppressed,
    }


# --- Processes and what they use ----------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command, CPU ticks including reaped children), from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                raw = stat.read()
        except OSError:
            continue
        command = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        table[int(entry)] = (int(fields[1]), command, ticks)
    return table


def _descendants(root: int, table: dict[int, tuple[int, str, int]]) -> list[int]:
    found, frontier = [], [root] if root in table else []
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier.extend(child for child, (parent, _, _) in table.items() if parent == pid)
    return found


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Every ``interval`` s: the RSS of each process under the given roots; CPU seconds of
    those trees, of PostgreSQL and Redis (all their processes, whoever they serve) and of the
    whole machine between ``start()`` and ``stop()``."""

    def __init__(self, roots: dict[str, int], interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.interval = interval
        self.samples: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
        self._done = threading.Event()
        self._cpu_start = self._cpu()

    def _cpu(self) -> dict[str, float]:
        table = _proc_table()
        hz = os.sysconf("SC_CLK_TCK")
        cpu: dict[str, float] = defaultdict(float)
        for label, root in self.roots.items():
            for pid in _descendants(root, table):
                cpu[label] += table[pid][2] / hz
        for _, command, ticks in table.values():
            if command.startswith(("postgres", "redis-server")):
                cpu[command.split()[0].split(":")[0]] += ticks / hz
        # Everything the machine's cores did, whoever for: what other processes took is
        # the difference.
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        cpu["machine_busy"] = (sum(fields) - fields[3] - fields[4]) / hz
        return cpu

    def run(self) -> None:
        started = time.monotonic()
        while not self._done.is_set():
            table = _proc_table()
            now = time.monotonic() - started
            for label, root in self.roots.items():
                for pid in _descendants(root, table):
                    rss = _rss_mb(pid)
                    if rss is not None:
                        self.samples[(label, pid)].append((now, rss))
            self._done.wait(self.interval)

    def stop(self) -> dict:
        self._done.set()
        self.join()
        cpu_end = self._cpu()
        processes = []
        for (label, pid), series in sorted(self.samples.items()):
            values = [rss for _, rss in series]
            half = len(values) // 2 or 1
            processes.append(
                {
                    "process": label,
                    "pid": pid,
                    "role": "main" if pid == self.roots[label] else "child",
                    "max_rss_mb": round(max(values), 1),
                    "max_rss_mb_first_half": round(max(values[:half]), 1),
                    "max_rss_mb_second_half": round(max(values[half:] or values), 1),
                    "samples": len(values),
                }
            )
        return {
            "processes": processes,
            "cpu_seconds": {
                key: round(cpu_end.get(key, 0) - self._cpu_start.get(key, 0), 1)
                for key in sorted(set(cpu_end) | set(self._cpu_start))
            },
        }


def _worker_layout() -> list[int]:
    """``BENCH_WORKERS`` ("1x2", "2x1" ...) as the concurrency of each worker to start."""
    count, _, concurrency = WORKERS.partition("x")
    return [int(concurrency or 1)] * int(count)


def _start_workers(env: dict[str, str], label: str) -> list[WorkerProcess]:
    workers = []
    try:
        for index, concurrency in enumerate(_worker_layout()):
            name = f"bench-{label}-{index}"
            workers.append(WorkerProcess(env=env, concurrency=concurrency, name=name).start())
    except Exception:
        for worker in workers:
            worker.kill()
        raise
    return workers


@pytest.fixture
def bench_env(worker_env: dict[str, str]) -> dict[str, str]:
    """Worker environment for the benchmarks: the test database and broker, persistent
    database connections as in production (``CONN_MAX_AGE`` 60 s)."""
    return {**worker_env, "CONN_MAX_AGE": "60", "LOG_LEVEL": "WARNING"}


@pytest.fixture
def sink_redis(redis_client) -> redis.Redis:
    client = redis.Redis.from_url(settings.REDIS_URL)
    anymail_sink.reset(client)
    smtp_sink.reset(client)
    return client


# --- One campaign, end to end -------------------------------------------------------------------


def _campaign(name: str) -> Campaign:
    return create_campaign(
        actor=None,
        name=name,
        kind="newsletter",
        subject_line="Spring in the darkroom, {{ first_name }}",
        body=BODY,
    )


def _run_campaign(
    *, env: dict[str, str], label: str, expected: int, received, extra_roots=None
) -> dict:
    """Start the workers, send a campaign and time it to *completed*; ``received()`` is how
    many recipients the sink has counted."""
    workers = _start_workers(env, label)
    try:
        campaign = _campaign(f"bench {label}")
        roots = {f"worker{i}": worker.pid for i, worker in enumerate(workers)}
        sampler = Sampler({**roots, **(extra_roots or {})})
        sampler.start()
        timeout = 300 + expected / 200
        started = time.perf_counter()
        send_campaign_now(campaign=campaign)
        handed_over = None
        while True:
            status = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True)[0]
            if handed_over is None and received() >= expected:
                handed_over = time.perf_counter() - started
            if status == Campaign.Status.COMPLETED:
                elapsed = time.perf_counter() - started
                break
            for worker in workers:
                if worker.process.poll() is not None:
                    pytest.fail(f"a worker died:\n{worker.tail()}")
            if time.perf_counter() - started > timeout:
                progress = campaign_progress(campaign=campaign)
                pytest.fail(f"campaign not completed in {timeout:.0f}s: {progress}")
            time.sleep(0.05)
        usage = sampler.stop()
    finally:
        for worker in workers:
            worker.stop(timeout=60)
    progress = campaign_progress(campaign=campaign)
    return {
        "campaign": campaign.pk,
        "workers": WORKERS,
        "seconds_to_completed": round(elapsed, 2),
        "seconds_to_all_handed_over": round(handed_over or elapsed, 2),
        "recipients_per_second": round(progress["sent"] / elapsed),
        "ms_per_recipient": round(1000 * elapsed / progress["sent"], 4),
        "cpu_ms_per_recipient": {
            key: round(1000 * seconds / progress["sent"], 4)
            for key, seconds in usage["cpu_seconds"].items()
        },
        "rows": {key: value for key, value in progress.items() if value},
        **usage,
    }


def _check_campaign(result: dict, seeded: dict, received: int) -> None:
    rows = result["rows"]
    assert received == seeded["expected_recipients"], (received, seeded)
    assert rows.get("sent") == seeded["expected_recipients"], rows
    assert rows.get("suppressed", 0) == seeded["suppressed_in_audience"], rows
    assert rows["total"] == seeded["audience"], rows
    assert not rows.get("queued") and not rows.get("sending") and not rows.get("failed"), rows


# --- The post_office baseline -------------------------------------------------------------------


def _post_office_baseline(*, env: dict[str, str], expected: int, sink: redis.Redis) -> dict:
    """The same recipients through django-post_office, as its users send a newsletter: one
    ``EmailTemplate``, ``mail.send_many`` with each recipient's context (post_office renders
    it when queueing), then ``manage.py send_queued_mail --processes 2`` to the same sink."""
    from post_office import mail
    from post_office.models import STATUS, Email, EmailTemplate

    campaign = _campaign("bench post_office baseline")
    # The campaign as our workers render it, with Django template tags where ours has merge
    # fields: what a post_office user would store as the EmailTemplate.
    rendered = campaign_template(campaign).with_merge_format("{{ FIELD }}")
    template = EmailTemplate.objects.create(
        name="bench-newsletter",
        subject=rendered.subject,
        content=rendered.text,
        html_content=rendered.html,
    )
    users = get_user_model().objects.only("id", "email", "first_name", "is_active")
    anymail_sink.reset(sink)

    started = time.perf_counter()
    after, queued = 0, 0
    while True:
        ids = list(
            audience_for(purpose=campaign.purpose, after=after, limit=settings.EMAIL_AUDIENCE_CHUNK)
        )
        if not ids:
            break
        batch = list(users.filter(pk__in=ids).order_by("pk"))
        decisions = gate_batch(campaign.kind, batch)
        messages = []
        for user in batch:
            if not decisions[user.pk]:
                continue
            values = merge_values(user=user, purpose=campaign.purpose.code, ref=str(user.pk))
            messages.append(
                {
                    "recipients": [user.email],
                    "sender": settings.DEFAULT_FROM_EMAIL,
                    "template": template,
                    "context": values,
                    "headers": list_unsubscribe_headers(
                        unsubscribe_url=values["unsubscribe_url"], reference=str(user.pk)
                    ),
                }
            )
        mail.send_many(messages)
        queued += len(messages)
        after = ids[-1]
    queue_seconds = time.perf_counter() - started

    log = Path(ROOT / "var" / "bench" / "post_office.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "manage.py", "send_queued_mail", "--processes", "2"]
    dispatch_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "privacy_site.settings_bench"}
    with log.open("wb") as out:
        dispatch_started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=dispatch_env, stdout=out, stderr=subprocess.STDOUT
        )
        sampler = Sampler({"send_queued_mail": process.pid})
        sampler.start()
        # wait4, for the CPU time of the command and its pool, which are gone once reaped.
        _, status, rusage = os.wait4(process.pid, 0)
        dispatch_seconds = time.perf_counter() - dispatch_started
        usage = sampler.stop()
        process.returncode = returncode = os.waitstatus_to_exitcode(status)
        usage["cpu_seconds"]["send_queued_mail"] = round(rusage.ru_utime + rusage.ru_stime, 1)
    elapsed = time.perf_counter() - started
    assert returncode == 0, log.read_text()[-3000:]

    sent = Email.objects.filter(status=STATUS.sent).count()
    received = anymail_sink.counts(sink)["recipients"]
    assert queued == sent == received == expected, (queued, sent, received, expected)
    return {
        "queued": queued,
        "seconds_queueing": round(queue_seconds, 2),
        "seconds_sending": round(dispatch_seconds, 2),
        "seconds_total": round(elapsed, 2),
        "recipients_per_second": round(sent / elapsed),
        "recipients_per_second_sending_only": round(sent / dispatch_seconds),
        "settings": {
            "BATCH_SIZE": settings.POST_OFFICE["BATCH_SIZE"],
            "processes": 2,
            "THREADS_PER_PROCESS": settings.POST_OFFICE.get("THREADS_PER_PROCESS", 5),
            "LOG_LEVEL": settings.POST_OFFICE.get("LOG_LEVEL", 2),
        },
        **usage,
    }


# --- Reporting ----------------------------------------------------------------------------------


def _write(case: str, results: dict) -> None:
    out = Path(settings.BASE_DIR) / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "communications.json"
    everything = json.loads(path.read_text()) if path.exists() else {}
    everything[case] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "postgres": connection.cursor().connection.server_version,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        **results,
    }
    path.write_text(json.dumps(everything, indent=2))
    print(json.dumps({case: everything[case]}, indent=2))


def _max_rss(usage: dict) -> float:
    return max(process["max_rss_mb"] for process in usage["processes"])


# --- The benchmarks -----------------------------------------------------------------------------


# django-post_office's rate per number of subjects, measured in this run: the SMTP case
# compares with it too, and measures its own only if no case before it did.
_BASELINES: dict[int, dict] = {}


def _baseline(*, subjects: int, env: dict[str, str], expected: int, sink: redis.Redis) -> dict:
    if subjects not in _BASELINES:
        _BASELINES[subjects] = _post_office_baseline(env=env, expected=expected, sink=sink)
    return _BASELINES[subjects]


def test_campaign_through_anymail_batches_goes_12_times_as_fast_as_post_office(
    transactional_db, bench_env, sink_redis
):
    if "post_office" not in settings.INSTALLED_APPS:
        pytest.skip("the baseline needs --ds privacy_site.settings_bench (make bench sets it)")
    # given
    seeded = _seed(SUBJECTS)
    env = {**bench_env, "EMAIL_BACKEND": SINK_BACKEND, "EMAIL_BATCH_SEND": "true"}

    # when: our campaign, then post_office with the same recipients, in the same run
    ours = _run_campaign(
        env=env,
        label="anymail",
        expected=seeded["expected_recipients"],
        received=lambda: anymail_sink.counts(sink_redis)["recipients"],
    )
    ours["sink"] = anymail_sink.counts(sink_redis)
    _check_campaign(ours, seeded, ours["sink"]["recipients"])
    baseline = _baseline(
        subjects=SUBJECTS, env=env, expected=seeded["expected_recipients"], sink=sink_redis
    )
    ratio = ours["recipients_per_second"] / baseline["recipients_per_second"]
    results = {
        **seeded,
        "ours": ours,
        "post_office": baseline,
        "ratio_to_post_office": round(ratio, 1),
        "target_ratio_to_post_office": BATCH_RATIO_TARGET,
    }
    _write("anymail_batch", results)

    # then
    assert ratio >= BATCH_RATIO_TARGET, results["ratio_to_post_office"]


def test_campaign_as_one_mime_message_per_recipient_over_smtp_goes_8_times_as_fast_as_post_office(
    transactional_db, bench_env, sink_redis
):
    if "post_office" not in settings.INSTALLED_APPS:
        pytest.skip("the baseline needs --ds privacy_site.settings_bench (make bench sets it)")
    # given
    seeded = _seed(SMTP_SUBJECTS)
    sink = smtp_sink.SMTPSinkProcess(redis_url=settings.REDIS_URL).start()
    env = {
        **bench_env,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": sink.host,
        "EMAIL_PORT": str(sink.port),
        "EMAIL_BATCH_SEND": "false",
    }
    try:
        # when
        ours = _run_campaign(
            env=env,
            label="smtp",
            expected=seeded["expected_recipients"],
            received=lambda: smtp_sink.counts(sink_redis)["recipients"],
            extra_roots={"smtp_sink": sink.pid},
        )
        time.sleep(0.3)  # the sink adds to its counters every 100 ms
        ours["sink"] = smtp_sink.counts(sink_redis)
    finally:
        sink.stop()
    message = smtp_sink.sample(sink_redis)
    # The same recipients through django-post_office (to its anymail sink), in this run.
    baseline = _baseline(
        subjects=SMTP_SUBJECTS,
        env={**bench_env, "EMAIL_BACKEND": SINK_BACKEND},
        expected=seeded["expected_recipients"],
        sink=sink_redis,
    )
    ratio = ours["recipients_per_second"] / baseline["recipients_per_second"]
    _write(
        "smtp_per_recipient",
        {
            **seeded,
            "ours": ours,
            "post_office_recipients_per_second": baseline["recipients_per_second"],
            "ratio_to_post_office": round(ratio, 1),
            "target_ratio_to_post_office": SMTP_RATIO_TARGET,
        },
    )

    # then
    _check_campaign(ours, seeded, ours["sink"]["recipients"])
    assert ours["sink"]["messages"] == ours["sink"]["recipients"], "one message per recipient"
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in message
    assert b"multipart/alternative" in message
    assert ratio >= SMTP_RATIO_TARGET, round(ratio, 1)


def test_campaign_to_a_million_subjects_completes_with_each_worker_under_150_mb(
    transactional_db, bench_env, sink_redis
):
    # given
    seeded = _seed(LARGE_SUBJECTS)
    env = {**bench_env, "EMAIL_BACKEND": SINK_BACKEND, "EMAIL_BATCH_SEND": "true"}

    # when
    ours = _run_campaign(
        env=env,
        label="large",
        expected=seeded["expected_recipients"],
        received=lambda: anymail_sink.counts(sink_redis)["recipients"],
    )
    ours["sink"] = anymail_sink.counts(sink_redis)
    _write(
        "anymail_batch_large",
        {**seeded, "ours": ours, "rss_limit_mb": RSS_LIMIT_MB, "max_rss_mb": _max_rss(ours)},
    )

    # then
    _check_campaign(ours, seeded, ours["sink"]["recipients"])
    assert _max_rss(ours) <= RSS_LIMIT_MB, ours["processes"]
