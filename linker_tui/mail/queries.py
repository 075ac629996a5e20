"""Reading the outbox: its lines and the counts per status (a light module: the status
line reads the counts without importing the relay, SMTP or the templates)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from linker_tui.store.db import read_session
from linker_tui.store.enums import OutboxStatus
from linker_tui.store.models import EmailOutbox, OnlineRequest


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
        select(EmailOutbox, OnlineRequest.external_id)
        .join(OnlineRequest, col(OnlineRequest.id) == col(EmailOutbox.request_id))
        .order_by(col(EmailOutbox.id).desc())
        .limit(limit)
    )
    if statuses:
        query = query.where(col(EmailOutbox.status).in_([s.value for s in statuses]))
    with read_session(engine) as session:
        rows = session.exec(query).all()
    entries = []
    for row, external_id in rows:
        assert row.id is not None
        entries.append(
            OutboxEntry(
                id=row.id,
                request_id=row.request_id,
                request_external_id=external_id,
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
    with read_session(engine) as session:
        rows = session.exec(
            select(EmailOutbox.status, func.count()).group_by(col(EmailOutbox.status))
        ).all()
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
    with read_session(engine) as session:
        rows = session.exec(
            select(EmailOutbox)
            .where(
                EmailOutbox.request_id == request_id,
                EmailOutbox.status == OutboxStatus.SENT.value,
            )
            .order_by(col(EmailOutbox.id))
        ).all()
        return [SentEmail(row.to_address, row.sent_at) for row in rows]
