"""Run a command and start it again whenever it exits on its own: ``python -m
privacy_site.keep_running -- celery -A privacy_site worker``.

The Procfile's runner (honcho) restarts nothing: when one process exits it stops all the
others. A Celery worker can exit on an error it does not recover from (a broker outage has
done it), so under honcho the worker and beat run under this. SIGTERM or SIGINT stops the
command (passed on to it) and this with it, with the command's exit status; any other exit is
logged and followed by a restart after ``--delay`` seconds (doubling, up to a minute, while
the command keeps dying within a minute of starting). docker compose (``restart:``) and
systemd (``Restart=always``) do the same for their deployments; see docs/OPERATIONS.md.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time

logger = logging.getLogger("privacy_site.keep_running")

MAX_DELAY = 60.0


def keep_running(command: list[str], *, delay: float = 1.0) -> int:
    stopping: list[int] = []
    child: subprocess.Popen | None = None

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    wait = delay
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)  # noqa: S603 (the operator's own command line)
        status = child.wait()
        if stopping:
            return status
        if time.monotonic() - started > MAX_DELAY:
            wait = delay  # it had been running a while: not a crash loop
        logger.error(
            "%s exited with status %s; starting it again in %g s", command[0], status, wait
        )
        deadline = time.monotonic() + wait
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return status
        wait = min(wait * 2, MAX_DELAY)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m privacy_site.keep_running")
    parser.add_argument("--delay", type=float, default=1.0, help="first wait before a restart")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    status = keep_running(command, delay=args.delay)
    return 128 - status if status < 0 else status  # killed by a signal, as a shell says it


if __name__ == "__main__":
    sys.exit(main())
