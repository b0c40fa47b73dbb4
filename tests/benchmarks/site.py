"""The site under gunicorn for the benchmarks, and the load that measures it.

``Gunicorn`` starts the site as production runs it (``DJANGO_ENV=production``, sync workers,
every middleware) on the test database, with the bare views of ``bench_site_urls`` beside the
site's own URLs: the baseline each benchmark measures in the same run.

``closed_loop`` keeps a fixed number of requests in flight (each on a new connection, as
gunicorn's sync workers close every one) and gives the rate the server sustains; ``paced``
starts requests at a fixed rate and times each from when it was due, so a request that waits
for a free connection counts its wait (no coordinated omission). Both run in one asyncio
client process, so the client's own CPU stays small beside the server's.
"""

from __future__ import annotations

import asyncio
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from tests.harness.worker import ROOT, database_url_for_tests

Result = tuple[int, float]  # (HTTP status, seconds)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} at the end"
    )


@dataclass
class Gunicorn:
    """``with Gunicorn(workers=2, env={...}) as site:``; ``site.port``."""

    workers: int = 2
    env: Mapping[str, str] = field(default_factory=dict)
    settings_module: str = "tests.benchmarks.bench_site_settings"
    static_root: Path | None = None
    port: int = 0

    def __enter__(self) -> Gunicorn:
        self.port = free_port()
        environment = {
            **os.environ,
            "DJANGO_ENV": "production",
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            # The test process's key: sessions it creates are valid in the site.
            "SECRET_KEY": settings.SECRET_KEY or secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url_for_tests(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
            "REDIS_URL": settings.REDIS_URL,
            "LOG_LEVEL": "WARNING",
            "WEB_ACCESS_LOG": "",
            **({"BENCH_STATIC_ROOT": str(self.static_root)} if self.static_root else {}),
            **self.env,
        }
        if self.static_root is not None:
            # Production serves hashed static names from the manifest collectstatic writes.
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                env=environment,
                cwd=ROOT,
                check=True,
            )
        # gunicorn's log goes to a file: a pipe nobody reads would stop the server once full.
        self.log = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn", "privacy_site.wsgi:application",
                    "--config", str(ROOT / "gunicorn.conf.py"),
                    "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                    "--chdir", str(ROOT), "--log-level", "warning",
                ],
                env=environment,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if self.request(b"GET /bench/bare/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")[0]:
                    return self
            except OSError:
                time.sleep(0.2)
        self.process.kill()
        raise RuntimeError(f"gunicorn did not start:\n{self.tail()}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def cpu_seconds(self) -> float:
        """CPU seconds the site's workers have used so far: each live worker's, and those of
        workers the master has reaped. Other work on the machine is not counted, so the cost
        of a request can be told apart from the machine's load."""
        ticks = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if int(entry) == self.process.pid:
                ticks += int(fields[13]) + int(fields[14])  # reaped children
            elif int(fields[1]) == self.process.pid:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def tail(self, lines: int = 60) -> str:
        """The end of gunicorn's log (its errors and the site's warnings)."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def request(self, raw: bytes) -> tuple[int, bytes]:
        """One request, written as is; (status, whole response)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as conn:
            conn.sendall(raw)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        response = b"".join(chunks)
        return int(response[9:12]), response


def http_request(
    method: str, path: str, *, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> bytes:
    """The bytes of an HTTP/1.1 request that closes its connection."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _send(port: int, raw: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        response = await reader.read()  # to the end: the server closes the connection
    finally:
        writer.close()
    return int(response[9:12]) if response[:5] == b"HTTP/" else 0


async def _closed(port: int, requests: Sequence[bytes], connections: int) -> list[Result]:
    results: list[Result] = []
    pending = iter(requests)

    async def client() -> None:
        for raw in pending:
            started = time.perf_counter()
            try:
                status = await _send(port, raw)
            except OSError:
                status = 0
            results.append((status, time.perf_counter() - started))

    await asyncio.gather(*(client() for _ in range(connections)))
    return results


async def _paced(
    port: int, requests: Sequence[bytes], rate: float, connections: int
) -> list[Result]:
    results: list[Result] = []
    free = asyncio.Semaphore(connections)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(due: float, raw: bytes) -> None:
        await asyncio.sleep(max(0.0, due - loop.time()))
        async with free:
            try:
                status = await _send(port, raw)
            except OSError:
                status = 0
        results.append((status, loop.time() - due))

    await asyncio.gather(*(one(start + n / rate, raw) for n, raw in enumerate(requests)))
    return results


@dataclass
class Run:
    seconds: float
    results: list[Result]


def closed_loop(port: int, requests: Sequence[bytes], connections: int) -> Run:
    started = time.perf_counter()
    results = asyncio.run(_closed(port, requests, connections))
    return Run(time.perf_counter() - started, results)


def paced(port: int, requests: Sequence[bytes], *, rate: float, connections: int) -> Run:
    started = time.perf_counter()
    results = asyncio.run(_paced(port, requests, rate, connections))
    return Run(time.perf_counter() - started, results)


def summary(runs: Sequence[Run], *, ok: int = 200) -> dict:
    """Requests, rate over the runs' time, latency percentiles (ms) and errors."""
    results = [r for run in runs for r in run.results]
    ms = sorted(seconds * 1000 for _, seconds in results)
    seconds = sum(run.seconds for run in runs)

    def at(share: float) -> float:
        return round(ms[max(0, int(len(ms) * share) - 1)], 1)

    return {
        "requests": len(results),
        "per_second": round(len(results) / seconds, 1),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ms[-1], 1),
        "errors": sum(1 for status, _ in results if status != ok),
    }


def postgres_cpu_seconds() -> float:
    """CPU seconds the machine's PostgreSQL server has used so far: the postmaster's, its live
    processes' (backends, WAL writer, checkpointer...) and those of backends that have ended
    (reaped by the postmaster). Read from /proc as root; on a quiet machine the difference
    across a run is the database's cost of that run's requests."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                head, tail = stat.read().rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        if head.endswith("(postgres"):
            stats[int(entry)] = tail.split()
    ticks = 0
    for fields in stats.values():
        ticks += int(fields[11]) + int(fields[12])
        if int(fields[1]) not in stats:  # a postmaster: add its reaped children
            ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")
