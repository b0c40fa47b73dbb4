"""A PostgreSQL cluster of the fault suite's own, on a free port: made with ``initdb`` in a
temporary folder, stopped and started again on purpose, removed afterwards. The machine's
shared PostgreSQL is never touched. (A Redis of the test's own is ``RedisServer`` in
tests/accounts/test_signup_outage.py.)"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2

from tests.harness.worker import ROOT

BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnPostgres:
    """``with OwnPostgres() as pg:``; ``pg.url``, ``pg.stop()``, ``pg.start()``."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="faults-postgres-"))
        self.data = self.folder / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/privacy_site"
        # PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, user="postgres")

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as, *command], check=True, capture_output=True, timeout=60)

    def __enter__(self) -> OwnPostgres:
        self._run(
            str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        self.start()
        conn = psycopg2.connect(self.admin_dsn)
        conn.autocommit = True
        try:
            conn.cursor().execute("CREATE DATABASE privacy_site")
        finally:
            conn.close()
        return self

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=60"
        )
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.folder / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def manage(self, *args: str, settings: str = "privacy_site.settings_test") -> str:
        """``manage.py`` on this cluster's database; its output."""
        env = {**os.environ, "DATABASE_URL": self.url, "DJANGO_SETTINGS_MODULE": settings}
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        return done.stdout

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped already
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
