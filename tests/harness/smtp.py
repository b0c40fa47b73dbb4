"""An aiosmtpd SMTP server that keeps every message it receives, for tests to read."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


class _Collector:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server._add(
            ReceivedMessage(envelope.mail_from, tuple(envelope.rcpt_tos), message)  # type: ignore[arg-type]
        )
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = _free_port(host)
        self._messages: list[ReceivedMessage] = []
        self._lock = threading.Condition()
        self._controller = Controller(_Collector(self), hostname=host, port=self.port)
        # Seconds each message takes to be accepted: a slow server, so a test can act while
        # a batch is half-way out. Set it back to 0 afterwards.
        self.delay = 0.0

    def start(self) -> SMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def _add(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, count: int, *, timeout: float = 30) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages arrived; raise with what did, on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} messages, received {len(self._messages)}"
                    )
                self._lock.wait(remaining)
            return list(self._messages)

    def to(self, address: str) -> list[ReceivedMessage]:
        address = address.lower()
        return [m for m in self.messages if address in (r.lower() for r in m.rcpt_tos)]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
