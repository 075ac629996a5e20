"""Deliver queued confirmation emails. The file backend writes one ``.eml`` per message."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.clock import Clock
from linker_tui.db import read_session, write_session
from linker_tui.models import EmailOutbox, OutboxStatus


class Mailer(Protocol):
    """Something that can deliver one message."""

    def deliver(self, message: EmailMessage) -> None: ...


class FileMailer:
    """Writes each message as an ``.eml`` file into a folder (demo and single desks)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def deliver(self, message: EmailMessage) -> None:
        """Write the message atomically: a temporary file, then a rename."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("/", "_").replace("@", "_at_")
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, self.folder / f"{name}.eml")


def build_message(row: EmailOutbox, sender: str, sender_name: str, clock: Clock) -> EmailMessage:
    """The email for an outbox row, with a Message-ID stable for that row."""
    message = EmailMessage()
    message["From"] = f"{sender_name} <{sender}>" if sender_name else sender
    message["To"] = f"{row.to_name} <{row.to_address}>" if row.to_name else row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(clock.now())
    domain = sender.rpartition("@")[2] or "linker-tui.invalid"
    message["Message-ID"] = row.message_id or make_msgid(f"outbox-{row.id}", domain=domain)
    message.set_content(row.body_text)
    return message


@dataclass(frozen=True)
class DeliveryReport:
    """How a delivery run went."""

    sent: int
    failed: int


def deliver_queued(
    engine: Engine, mailer: Mailer, clock: Clock, sender: str, sender_name: str = ""
) -> DeliveryReport:
    """Send every queued email; each is marked sent or failed in its own transaction."""
    with read_session(engine) as session:
        ids = session.exec(
            select(EmailOutbox.id)
            .where(EmailOutbox.status == OutboxStatus.QUEUED.value)
            .order_by(col(EmailOutbox.id))
        ).all()
    sent = failed = 0
    for outbox_id in ids:
        with write_session(engine) as session:
            row = session.get(EmailOutbox, outbox_id)
            if row is None or row.status != OutboxStatus.QUEUED.value:
                continue
            row.attempts += 1
            try:
                message = build_message(row, sender, sender_name, clock)
                row.message_id = str(message["Message-ID"])
                mailer.deliver(message)
            except (OSError, ValueError) as exc:
                row.status = OutboxStatus.FAILED.value
                row.last_error = str(exc)[:500]
                failed += 1
            else:
                row.status = OutboxStatus.SENT.value
                row.sent_at = clock.now()
                sent += 1
            session.add(row)
    return DeliveryReport(sent=sent, failed=failed)
