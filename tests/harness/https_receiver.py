"""An HTTPS endpoint on 127.0.0.1 with a certificate of its own (made for the test, trusted
through ``ca_file``), standing in for a third party's notice receiver: it keeps every request
and answers with the status codes it is told to (``answer_next``), then 200."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "receiver-cert.pem", folder / "receiver-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class NoticeReceiver:
    """``start()``, then point a party's ``notification_url`` at ``url`` and trust
    ``ca_file``; ``requests`` holds what arrived, ``wait_for(n)`` waits for it."""

    def __init__(self, folder: Path) -> None:
        self.ca_file, self._key_file = _self_signed(folder)
        self.requests: list[ReceivedRequest] = []
        self._answers: deque[int] = deque()
        self._hang_for = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> NoticeReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code, hang = receiver._take(
                    ReceivedRequest(self.path, dict(self.headers.items()), body)
                )
                if hang:
                    time.sleep(hang)
                answer = b'{"received": true}' if code < 300 else b'{"error": "try later"}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, self._key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}/privacy-notices"

    def answer_next(self, *codes: int) -> None:
        """Answer the next requests with these status codes (then 200 again)."""
        with self._lock:
            self._answers.extend(codes)

    def hang_next(self, seconds: float) -> None:
        """Keep the next request waiting this long before answering."""
        with self._lock:
            self._hang_for = seconds

    def _take(self, request: ReceivedRequest) -> tuple[int, float]:
        with self._lock:
            self.requests.append(request)
            hang, self._hang_for = self._hang_for, 0.0
            return (self._answers.popleft() if self._answers else 200), hang

    def wait_for(self, count: int, *, timeout: float = 20) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.requests)} requests arrived, expected {count}")
