"""An aiosmtpd SMTP server that keeps every message it receives, for tests to read, and that can
be told to misbehave for the next messages (``refuse_next``, ``hang_up_next``,
``answer_late``, ``stall_next``), as a real server under load or going down does. ``log``
says when each message met a fault or was accepted, for tests that time the retries."""

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


@dataclass
class Fault:
    """What the server does with the next message reaching ``at`` ("rcpt" or "data", the
    end of the message) instead of accepting it."""

    at: str = "data"
    reply: str | None = None  # e.g. "451 4.3.0 Try again later"; None: no reply
    hang_up: bool = False  # close the connection (after the reply, if any)
    keep_then_wait: float = 0.0  # keep the message, then answer 250 this many seconds late
    stall: float = 0.0  # say nothing for this many seconds, then drop the connection

    def __str__(self) -> str:
        if self.stall:
            return f"stalled at {self.at}"
        if self.keep_then_wait:
            return "kept, answered late"
        return f"refused at {self.at}: {self.reply}" if self.reply else f"hung up at {self.at}"


class _Collector:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        refusal = self.server._refusal_for(address)
        if refusal is not None:
            return refusal
        fault = self.server._take_fault("rcpt")
        if fault is not None:
            if fault.stall:
                await asyncio.sleep(fault.stall)
                server.transport.abort()
                return "250 OK"
            return self._misbehave(server, fault)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        fault = self.server._take_fault("data")
        if fault is not None and not fault.keep_then_wait:
            return self._misbehave(server, fault)
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server._add(
            ReceivedMessage(envelope.mail_from, tuple(envelope.rcpt_tos), message)  # type: ignore[arg-type]
        )
        self.server._note("accepted")
        if fault is not None:
            await asyncio.sleep(fault.keep_then_wait)
        return "250 Message accepted for delivery"

    @staticmethod
    def _misbehave(smtp, fault: Fault) -> str:
        if fault.reply is None:
            # Gone without a word: close now (aiosmtpd's reply then goes nowhere).
            smtp.transport.abort()
            return "250 OK"
        if fault.hang_up:
            asyncio.get_running_loop().call_soon(smtp.transport.close)
        return fault.reply


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
        self._faults: list[Fault] = []
        self._refused_recipients: dict[str, str] = {}
        # (time.monotonic(), what happened): each fault as it is applied, each message accepted.
        self.log: list[tuple[float, str]] = []

    # --- Misbehaving (each fault is used once, in order; ``clear`` forgets the rest) --------

    def refuse_next(
        self, reply: str = "451 4.3.0 Try again later", *, count: int = 1, at: str = "data",
        hang_up: bool = False,
    ) -> None:  # fmt: skip
        """Refuse the next ``count`` messages with ``reply`` (a 421 with ``hang_up``, as a
        server shutting down says it), at the recipient or at the end of the data."""
        self._add_faults([Fault(at=at, reply=reply, hang_up=hang_up)] * count)

    def hang_up_next(self, *, count: int = 1, at: str = "rcpt") -> None:
        """Drop the connection without a reply: at "rcpt", before the message was sent; at
        "data", once it was sent whole (and not kept)."""
        self._add_faults([Fault(at=at, reply=None)] * count)

    def answer_late(self, seconds: float, *, count: int = 1) -> None:
        """Keep the next ``count`` messages, but answer 250 only ``seconds`` later (after
        the client's timeout, if it is shorter)."""
        self._add_faults([Fault(keep_then_wait=seconds)] * count)

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        """Refuse every message to ``address`` at its recipient, until ``clear``: a mailbox
        that does not exist (5xx) or is full (4xx)."""
        with self._lock:
            self._refused_recipients[address.lower()] = reply

    def _refusal_for(self, address: str) -> str | None:
        with self._lock:
            reply = self._refused_recipients.get(address.lower())
            if reply is not None:
                self.log.append((time.monotonic(), f"refused {address}: {reply}"))
            return reply

    def stall_next(self, seconds: float, *, count: int = 1, at: str = "rcpt") -> None:
        """Say nothing to the next ``count`` messages' recipient (or end of data) for
        ``seconds``, then drop the connection: at "rcpt" the message was never handed over,
        so a client that timed out may try it again."""
        self._add_faults([Fault(at=at, stall=seconds)] * count)

    def _note(self, what: str) -> None:
        with self._lock:
            self.log.append((time.monotonic(), what))

    def _add_faults(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def _take_fault(self, at: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.at == at:
                    self.log.append((time.monotonic(), str(fault)))
                    return self._faults.pop(index)
                break  # faults apply in order
            return None

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
            self._faults.clear()
            self._refused_recipients.clear()
            self.log.clear()

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
