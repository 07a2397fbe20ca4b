"""Real local receivers for delivery tests: an SMTP server and a JSON webhook, both on 127.0.0.1.

- `SmtpSink`: aiosmtpd in its own thread, collecting each message as an `EmailMessage`. `stop()`
  and `start()` again reuse the same port, so a test can simulate an outage of "the" mail server.
  Given `credentials`, it offers AUTH without TLS and accepts only that user and password.
- `WebhookSink`: a threaded HTTP server collecting the JSON bodies POSTed to it (apprise
  `json://127.0.0.1:PORT/path`); `fail_next(n)` makes the next n requests answer 500.

Waiting is event-based (`wait_for` with a deadline), never a sleep.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class _Inbox:
    """A list that other threads append to and tests wait on."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def append(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def snapshot(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def wait_for(self, count: int, timeout: float) -> list[Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) >= count, timeout):
                raise AssertionError(
                    f"expected {count} item(s) within {timeout}s, got {len(self._items)}"
                )
            return list(self._items)


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class SmtpSink:
    """A plain SMTP server (no TLS) on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, port: int | None = None, credentials: tuple[str, str] | None = None):
        self.port = port or free_port()
        self.credentials = credentials
        self.inbox = _Inbox()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [e.message for e in self.inbox.snapshot()]

    @property
    def envelopes(self) -> list[Envelope]:
        return self.inbox.snapshot()

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        return [e.message for e in self.inbox.wait_for(count, timeout)]

    def start(self) -> SmtpSink:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {}
        if self.credentials:
            kwargs.update(
                authenticator=self._authenticate, auth_require_tls=False, auth_required=True
            )
        self._controller = Controller(_Handler(self.inbox), hostname=HOST, port=self.port, **kwargs)
        self._controller.start()  # returns once the server answers on the port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials is not None
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok, handled=False)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler:
    def __init__(self, inbox: _Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.inbox.append(Envelope(envelope.mail_from, tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON, or the raw text when it is not JSON


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer (a replica killed by a test) is not a sink failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class WebhookSink:
    """An HTTP server on 127.0.0.1 that records POSTed JSON and answers 200 (or 500 when told)."""

    def __init__(self) -> None:
        self.inbox = _Inbox()
        self._failures = 0
        self.delay = 0.0  # seconds between recording a request and answering it (a slow receiver)
        self._lock = threading.Lock()
        self._server = _QuietServer((HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[Request]:
        return self.inbox.snapshot()

    def url(self, path: str = "/hook", scheme: str = "json", userinfo: str = "") -> str:
        auth = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{auth}{HOST}:{self.port}{path}"

    def fail_next(self, n: int) -> None:
        """Answer the next `n` requests with 500 (still recording them)."""
        with self._lock:
            self._failures = n

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[Request]:
        return self.inbox.wait_for(count, timeout)

    def start(self) -> WebhookSink:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_failure(self) -> bool:
        with self._lock:
            if self._failures > 0:
                self._failures -= 1
                return True
            return False

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                text = raw.decode("utf-8", "replace")
                try:
                    body: Any = json.loads(text)
                except ValueError:
                    body = text
                sink.inbox.append(Request(self.path, dict(self.headers.items()), body))
                if sink.delay:
                    time.sleep(sink.delay)
                status = 500 if sink._take_failure() else 200
                payload = b'{"error": "sink told to fail"}' if status == 500 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler
