"""Real mail servers on loopback for the mail tests, and a linked request with its email.

``SmtpServer`` is an aiosmtpd ``Controller`` on 127.0.0.1 (a free port) whose handler
follows a script: each DATA (or RCPT) gets the next scripted reply, ``DROP`` closes the
connection instead of answering. Only messages answered with 250 count as accepted.
``SilentServer`` accepts connections and never says a word.
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy.engine import Engine

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.mail.relay import OutboxRelay, RelayPolicy
from linker_tui.mail.transport import Mailer, SmtpMailer
from linker_tui.read.views import LinkResult
from linker_tui.workflow.decisions import Workflow
from linker_tui.workflow.practice import PracticeInfo
from tests.builders import NOW, TZ, add_appointment, add_patient, add_provider, add_request, local

DROP = "DROP"
PRACTICE = PracticeInfo(
    "Maple Grove Dental",
    "1200 Maple Grove Rd, Unit 4, Toronto, ON M4B 1B3",
    "(416) 555-0100",
    "reception@maplegrove.example.com",
)
SENDER = PRACTICE.email


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """A message the server accepted (answered 250)."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class ScriptedHandler:
    """Replies from ``data_script`` / ``rcpt_script`` in order, then 250 OK."""

    data_script: list[str] = field(default_factory=list)
    rcpt_script: list[str] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    refused_ids: list[str] = field(default_factory=list)  # Message-IDs of DATA not accepted
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            reply = self.rcpt_script.pop(0) if self.rcpt_script else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            reply = self.data_script.pop(0) if self.data_script else "250 OK"
        raw = envelope.original_content or b""
        if reply == DROP:
            self._refused(raw)
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()  # gone before any reply: the message was not accepted
            return "250 OK"  # never reaches the client
        if not reply.startswith("250"):
            self._refused(raw)
            return reply
        with self.lock:
            self.accepted.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(raw))
            )
        return reply

    def _refused(self, raw: bytes) -> None:
        parsed = email.message_from_bytes(raw, policy=policy.default)
        with self.lock:
            self.refused_ids.append(str(parsed["Message-ID"]))

    def accepted_ids(self) -> list[str]:
        with self.lock:
            return [str(r.message["Message-ID"]) for r in self.accepted]


class SmtpServer:
    """An aiosmtpd server on loopback with a scripted handler."""

    def __init__(self, handler: ScriptedHandler | None = None, **smtp_kwargs: Any) -> None:
        self.handler = handler or ScriptedHandler()
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **smtp_kwargs
        )

    def mailer(self, **kwargs: Any) -> SmtpMailer:
        kwargs.setdefault("security", "none")
        kwargs.setdefault("timeout", 5.0)
        return SmtpMailer("127.0.0.1", self.port, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@contextmanager
def smtp_server(handler: ScriptedHandler | None = None, **kwargs: Any) -> Iterator[SmtpServer]:
    with SmtpServer(handler, **kwargs) as server:
        yield server


def login_checker(user: str, password: str) -> Any:
    """An aiosmtpd authenticator accepting one user and password."""

    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == user.encode()
            and data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


class SilentServer:
    """Accepts TCP connections and never answers (a hung server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.sock.settimeout(0.05)
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(2)
        for conn in self.conns:
            conn.close()
        self.sock.close()


def tls_contexts(cert: str, key: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts for a self-signed localhost certificate."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=cert)
    return server, client


# ----------------------------------------------------------------- data
def practice_workflow(engine: Engine, clock: FixedClock | None = None) -> Workflow:
    return Workflow(engine, clock or FixedClock(NOW), Actor("alice", "desk-1"), TZ, PRACTICE)


def link_with_email(
    engine: Engine,
    *,
    first: str = "Zoë",
    last: str = "Lefèvre",
    address: str = "zoe@example.com",
    start: datetime | None = None,
    requested: datetime | None = None,
    workflow: Workflow | None = None,
) -> LinkResult:
    """A patient, an appointment, a request linked to it, staff saying Yes to the email."""
    doc = add_provider(engine, f"DOC-{uuid.uuid4().hex[:8]}", "Rahul", "Patel")
    pid = add_patient(engine, first, last, date(1990, 1, 2), email=address)
    aid = add_appointment(engine, pid, doc, start or local(2026, 12, 10, 14, 0))
    rid = add_request(engine, first, last, requested or local(2026, 12, 3, 9, 30), patient_id=pid)
    return (workflow or practice_workflow(engine)).link(
        rid, aid, expected_version=1, send_email=True
    )


def linked_email(engine: Engine, **patient: Any) -> int:
    """Like :func:`link_with_email`; returns the queued outbox id."""
    result = link_with_email(engine, **patient)
    assert result.outbox_id is not None, result.email_refused
    return result.outbox_id


def make_relay(
    engine: Engine,
    mailer: Mailer,
    clock: FixedClock,
    worker: str = "relay-1",
    policy: RelayPolicy | None = None,
) -> OutboxRelay:
    return OutboxRelay(
        engine,
        mailer,
        clock,
        sender=SENDER,
        sender_name=PRACTICE.name,
        worker_id=worker,
        policy=policy,
    )
