"""A fast SMTP sink in its own process, for benchmarks: it accepts every message and counts.

``tests/harness/smtp.py`` (aiosmtpd, in the test process) parses and keeps every message, which
is right for tests reading what was sent and wrong for a benchmark: at thousands of messages a
second it would compete with the workers for the test process's GIL and grow without bound.
This sink speaks just enough SMTP for ``smtplib`` (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT), never parses a message, and adds what it received to Redis counters every 100 ms. It
keeps the first message whole, so a benchmark can check what went over the wire. Like the
mail servers a campaign goes to (Postfix, Exim, the providers' SMTP endpoints), it offers
PIPELINING (RFC 2920): it reads every command in what it is sent, in order.

With ``--count-each`` it also counts the messages each recipient received (a Redis hash, by
address), for the fault suite to prove that nobody got a message twice; it still parses
nothing but the envelope.

Run ``python -m tests.harness.smtp_sink --port 2525 --redis-url redis://...``; the benchmark
starts and stops it with ``SMTPSinkProcess``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MESSAGES_KEY = "bench:smtp-sink:messages"
RECIPIENTS_KEY = "bench:smtp-sink:recipients"
SAMPLE_KEY = "bench:smtp-sink:sample"
BY_RECIPIENT_KEY = "bench:smtp-sink:by-recipient"
_END_OF_DATA = b"\r\n.\r\n"


class _Counters:
    def __init__(self) -> None:
        self.messages = 0
        self.recipients = 0
        self.sample: bytes | None = None
        self.sample_written = False
        # Messages by recipient address (lower case) since the last flush; None: not counted.
        self.by_recipient: dict[str, int] | None = None


class _Session(asyncio.Protocol):
    def __init__(self, counters: _Counters) -> None:
        self.counters = counters
        self.buffer = bytearray()
        self.in_data = False
        self.rcpts = 0
        self.addresses: list[str] = []

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"220 bench-sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                # The terminator is CRLF.CRLF; the CRLF that ended DATA counts as its first half.
                end = self.buffer.find(_END_OF_DATA)
                if end < 0:
                    return
                if self.counters.sample is None:
                    self.counters.sample = bytes(self.buffer[2:end])
                del self.buffer[: end + len(_END_OF_DATA)]
                self.in_data = False
                self.counters.messages += 1
                self.counters.recipients += self.rcpts
                self.rcpts = 0
                by_recipient = self.counters.by_recipient
                if by_recipient is not None:
                    for address in self.addresses:
                        by_recipient[address] = by_recipient.get(address, 0) + 1
                self.addresses = []
                self.transport.write(b"250 OK queued\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            if not self._command(line):
                return

    def _command(self, line: bytes) -> bool:
        verb = line[:4].upper()
        if verb == b"EHLO":
            self.transport.write(
                b"250-bench-sink\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250 HELP\r\n"
            )
        elif verb in (b"HELO", b"NOOP"):
            self.transport.write(b"250 OK\r\n")
        elif verb in (b"MAIL", b"RSET"):
            self.rcpts = 0
            self.addresses = []
            self.transport.write(b"250 OK\r\n")
        elif verb == b"RCPT":
            self.rcpts += 1
            if self.counters.by_recipient is not None:
                self.addresses.append(_address_of(line))
            self.transport.write(b"250 OK\r\n")
        elif verb == b"DATA":
            self.in_data = True
            # So that an empty body's ".\r\n" is found as CRLF.CRLF.
            self.buffer[0:0] = b"\r\n"
            self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
            return False
        else:
            self.transport.write(b"502 Command not implemented\r\n")
        return True


def _address_of(rcpt: bytes) -> str:
    """The address of ``RCPT TO:<address> [options]``, in lower case."""
    argument = rcpt[8:].strip() if rcpt[:8].upper() == b"RCPT TO:" else rcpt[4:].strip()
    if argument.startswith(b"<"):
        argument = argument[1 : argument.find(b">")]
    else:
        argument = argument.split(b" ", 1)[0]
    return argument.decode("utf-8", "replace").lower()


async def _serve(host: str, port: int, redis_url: str, *, count_each: bool = False) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    counters = _Counters()
    if count_each:
        counters.by_recipient = {}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Session(counters), host, port, backlog=128)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    flushed = (0, 0)

    def flush() -> None:
        nonlocal flushed
        messages, recipients = counters.messages, counters.recipients
        if (messages, recipients) != flushed:
            pipe = client.pipeline(transaction=False)
            pipe.incrby(MESSAGES_KEY, messages - flushed[0])
            pipe.incrby(RECIPIENTS_KEY, recipients - flushed[1])
            if counters.sample is not None and not counters.sample_written:
                pipe.set(SAMPLE_KEY, counters.sample)
                counters.sample_written = True
            if counters.by_recipient:
                for address, count in counters.by_recipient.items():
                    pipe.hincrby(BY_RECIPIENT_KEY, address, count)
                counters.by_recipient = {}
            pipe.execute()
            flushed = (messages, recipients)

    async with server:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.1)
            flush()
    flush()


class SMTPSinkProcess:
    """The sink as a child process: ``start()`` returns once it listens; ``stop()``."""

    def __init__(
        self, *, redis_url: str, host: str = "127.0.0.1", count_each: bool = False
    ) -> None:
        self.host = host
        self.redis_url = redis_url
        self.count_each = count_each
        with socket.socket() as sock:
            sock.bind((host, 0))
            self.port = sock.getsockname()[1]
        self.process: subprocess.Popen[str] | None = None

    def start(self, *, timeout: float = 20) -> SMTPSinkProcess:
        command = [
            sys.executable, "-m", "tests.harness.smtp_sink",
            "--host", self.host, "--port", str(self.port), "--redis-url", self.redis_url,
            *(["--count-each"] if self.count_each else []),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline() if self.process.stdout else ""
        if line.strip() != "ready" or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"SMTP sink did not start: {line!r}")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, *, timeout: float = 10) -> None:
        if not self.process or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)


def counts(client) -> dict[str, int]:
    messages, recipients = client.mget(MESSAGES_KEY, RECIPIENTS_KEY)
    return {"messages": int(messages or 0), "recipients": int(recipients or 0)}


def sample(client) -> bytes:
    return client.get(SAMPLE_KEY) or b""


def by_recipient(client) -> Counter[str]:
    """Messages received by each address (a sink started with ``count_each``)."""
    return Counter(
        {
            address.decode(): int(count)
            for address, count in client.hgetall(BY_RECIPIENT_KEY).items()
        }
    )


def reset(client) -> None:
    client.delete(MESSAGES_KEY, RECIPIENTS_KEY, SAMPLE_KEY, BY_RECIPIENT_KEY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--count-each", action="store_true", help="count by recipient too")
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port, args.redis_url, count_each=args.count_each))


if __name__ == "__main__":
    main()
