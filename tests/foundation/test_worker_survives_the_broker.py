"""A worker survives its broker going away, and every way we ship starts a dead one again.

kombu 5.7.0 could come back to a channel of a broker connection the worker had already closed,
to restore its unacknowledged messages, and fail there with ``AttributeError: 'NoneType' object
has no attribute 'hostname'``: the worker exited ("Unrecoverable error"). Our transport
(``privacy_site.broker``) makes that the ``ConnectionError`` every restore path tolerates. And
should a worker exit anyway, docker compose, the Procfile (``privacy_site.keep_running``) and
the documented systemd unit all start it again.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml
from django.conf import settings
from kombu import Connection, Queue
from kombu.common import ignore_errors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_redis():
    """A Redis of this test's own on a free port, nothing saved to disk."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", client
    server.kill()
    server.wait()


def test_the_project_uses_its_own_redis_transport():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert settings.CELERY_BROKER_TRANSPORT == "privacy_site.broker:Transport"


def test_restoring_unacked_messages_of_a_closed_connection_is_a_connection_error(own_redis):
    url, client = own_redis
    # given a consumer holding one unacknowledged message (a task reserved by the worker)
    connection = Connection(url, transport=settings.CELERY_BROKER_TRANSPORT)
    channel = connection.channel()
    queue = Queue("tasks", channel=channel)
    queue.declare()
    connection.Producer(channel).publish({"task": 1}, routing_key="tasks")
    assert queue.get(no_ack=False) is not None
    assert client.hlen("unacked") == 1

    # when the channel is closed (its pools go first) after its connection was (as the worker's
    # consumer can do while it reconnects to a broker that went away)
    channel._disconnect_pools()
    connection._do_close_transport()

    # then closing it raises nothing the worker does not expect from a lost broker
    ignore_errors(connection, channel.close)
    # and the message is not lost: it stays unacked, restored after the visibility timeout
    assert client.hlen("unacked") == 1


# --- Restarts in every deployment ----------------------------------------------------------------


def keep_running(*command: str, delay: float = 0.1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "privacy_site.keep_running", "--delay", str(delay), "--", *command],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_keep_running_starts_a_command_that_died_again(tmp_path):
    # given a command that dies at once, twice, then stays up
    runs = tmp_path / "runs"
    script = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(runs)!r}); n = len(p.read_text()) if p.exists() else 0\n"
        "p.write_text('x' * (n + 1))\n"
        "sys.exit(1) if n < 2 else time.sleep(60)\n"
    )
    wrapper = keep_running(sys.executable, "-c", script)
    try:
        deadline = time.monotonic() + 20
        while not runs.exists() or len(runs.read_text()) < 3:
            assert time.monotonic() < deadline, "the command was not started again"
            assert wrapper.poll() is None
            time.sleep(0.05)
    finally:
        # when it is asked to stop
        wrapper.send_signal(signal.SIGTERM)
        status = wrapper.wait(timeout=10)
    # then it stops, with the command, and says why it had restarted it
    assert status == 128 + signal.SIGTERM
    assert len(runs.read_text()) == 3
    assert wrapper.stderr.read().count("exited with status 1; starting it again") == 2


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.mark.parametrize("name", ["worker", "beat"])
def test_the_procfile_runs_the_worker_and_beat_under_keep_running(name):
    assert "-m privacy_site.keep_running -- " in procfile()[name]


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_compose_starts_a_dead_app_process_again(name):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"][name]["restart"] in {"always", "unless-stopped"}


def test_the_documented_systemd_unit_restarts_the_worker():
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    unit = re.search(r"```ini\n(\[Unit\].*?celery -A privacy_site worker.*?)```", operations, re.S)
    assert unit is not None
    assert re.search(r"^Restart=always$", unit.group(1), re.M)
