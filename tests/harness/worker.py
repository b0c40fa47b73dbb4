"""A real Celery worker process for tests, on the test database and the test Redis broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_tests() -> str:
    """The URL of the database pytest-django created, for a process outside this one."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class WorkerProcess:
    """``celery worker`` as a child process: start, wait until it consumes, stop or kill."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        concurrency: int = 2,
        name: str = "test",
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """``extra_env`` adds to or overrides ``env``: settings for this worker only, e.g.
        ``{"EMAIL_BATCH_SIZE": "20"}`` (``worker_factory(extra_env=...)`` passes it on)."""
        self.env = {**os.environ, **env, **(extra_env or {})}
        self.concurrency = concurrency
        self.name = name
        # The node name remote control addresses (``%h`` spelt out).
        self.hostname = f"{name}-{os.getpid()}@{socket.gethostname()}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix=f"celery-{name}-", suffix=".log")[1])

    def start(self, *, timeout: float = 60) -> WorkerProcess:
        from privacy_site.celery import app, ping

        command = [
            sys.executable, "-m", "celery", "-A", "privacy_site", "worker",
            "--loglevel", "INFO", "--pool", "prefork", "--concurrency", str(self.concurrency),
            "--hostname", self.hostname,
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        result = ping.delay()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Celery worker exited at start:\n{self.tail()}")
            # Another worker on the broker may have answered the task; only this worker's own
            # answer to a remote-control ping shows its event loop runs. Before that, Celery
            # treats a pool child that dies as a failed start and exits ("Could not start
            # worker processes"), so a test that kills a child must not do it any sooner.
            if result.ready() and app.control.ping(destination=[self.hostname], timeout=0.5):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Celery worker did not answer a ping in {timeout}s:\n{self.tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash or an OOM kill would (pool children
        left behind by ``kill_main`` included)."""
        if not self.process:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        if self.process.poll() is None:
            self.process.wait(timeout=10)

    def pool_children(self) -> list[int]:
        """The pids of the prefork pool's child processes (they run the tasks), from /proc."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent == self.pid:
                children.append(int(entry.name))
        return sorted(children)

    def kill_main(self) -> None:
        """SIGKILL the main process only, as the OOM killer picks one: the pool children it
        leaves behind lose their parent (``kill`` ends them too)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def kill_pool_child(self, pid: int) -> None:
        """SIGKILL one pool child; the main process notices and starts another."""
        assert pid in self.pool_children(), f"{pid} is not a pool child of {self.pid}"
        os.kill(pid, signal.SIGKILL)

    def stop(self, *, timeout: float = 20) -> None:
        """Warm shutdown: the worker finishes its current tasks, then exits."""
        if not self.process or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def wait_idle(self, *, timeout: float = 10) -> bool:
        """Wait until this worker runs no task, twice in a row 50 ms apart (a task's follow-up,
        published as it ends, may start in between); False if it is still busy at
        ``timeout``. A test's end waits for this before its tables are emptied: emptying them
        under a task still writing can deadlock with it."""
        from privacy_site.celery import app

        if not self.process or self.process.poll() is not None:
            return True
        deadline = time.monotonic() + timeout
        idle_once = False
        while time.monotonic() < deadline:
            inspector = app.control.inspect(destination=[self.hostname], timeout=1, limit=1)
            replies = inspector.active() or {}
            busy = any(replies.values()) or not replies
            if not busy and idle_once:
                return True
            idle_once = not busy
            time.sleep(0.05)
        return False

    @contextmanager
    def paused(self, *, timeout: float = 10) -> Iterator[None]:
        """Stop this worker taking tasks from the default queue meanwhile (it keeps running),
        so that workers started with other settings (``worker_factory``) get every task."""
        from privacy_site.celery import app

        queue = app.conf.task_default_queue
        if not self.process or self.process.poll() is not None:
            yield
            return
        replies = app.control.cancel_consumer(
            queue, destination=[self.hostname], reply=True, timeout=timeout
        )
        if not replies:
            raise RuntimeError(f"worker {self.hostname} did not stop consuming:\n{self.tail()}")
        try:
            yield
        finally:
            if self.process.poll() is None:
                app.control.add_consumer(
                    queue, destination=[self.hostname], reply=True, timeout=timeout
                )

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
