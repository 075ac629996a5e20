"""Reading the outbox: its lines and the counts per status (a light module, on SQLAlchemy
Core: the status line reads the counts without importing the relay, SMTP, the templates
or the ORM)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.store.enums import OutboxStatus
from linker_tui.store.tables import email_outbox, online_request


@dataclass(frozen=True)
class OutboxEntry:
    """One line of the outbox list."""

    id: int
    request_id: int
    request_external_id: str
    to_address: str
    to_name: str
    subject: str
    status: OutboxStatus
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    message_id: str
    claimed_by: str = field(default="")


def outbox_entries(
    engine: Engine,
    statuses: Sequence[OutboxStatus] | None = None,
    limit: int = 500,
) -> list[OutboxEntry]:
    """Outbox rows, newest first (optionally only some statuses)."""
    query = (
        sa.select(email_outbox, online_request.c.external_id.label("request_external_id"))
        .join(online_request, online_request.c.id == email_outbox.c.request_id)
        .order_by(email_outbox.c.id.desc())
        .limit(limit)
    )
    if statuses:
        query = query.where(email_outbox.c.status.in_([s.value for s in statuses]))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    entries = []
    for row in rows:
        entries.append(
            OutboxEntry(
                id=row.id,
                request_id=row.request_id,
                request_external_id=row.request_external_id,
                to_address=row.to_address,
                to_name=row.to_name,
                subject=row.subject,
                status=OutboxStatus(row.status),
                attempts=row.attempts,
                last_error=row.last_error,
                created_at=row.created_at,
                next_attempt_at=row.next_attempt_at,
                sent_at=row.sent_at,
                message_id=row.message_id,
                claimed_by=row.claimed_by,
            )
        )
    return entries


def outbox_counts(engine: Engine) -> dict[OutboxStatus, int]:
    """How many emails are in each status (every status present, zero if none)."""
    status = email_outbox.c.status
    with engine.connect() as connection:
        rows = connection.execute(sa.select(status, sa.func.count()).group_by(status)).all()
    counts = dict.fromkeys(OutboxStatus, 0)
    for status, count in rows:
        counts[OutboxStatus(status)] = int(count)
    return counts


@dataclass(frozen=True)
class SentEmail:
    """A confirmation email the patient already has."""

    to_address: str
    sent_at: datetime | None


def sent_emails(engine: Engine, request_id: int) -> list[SentEmail]:
    """The emails already sent for a request, oldest first (reopening it warns of them)."""
    query = (
        sa.select(email_outbox.c.to_address, email_outbox.c.sent_at)
        .where(
            email_outbox.c.request_id == request_id,
            email_outbox.c.status == OutboxStatus.SENT.value,
        )
        .order_by(email_outbox.c.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [SentEmail(row.to_address, row.sent_at) for row in rows]
