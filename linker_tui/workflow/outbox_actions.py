"""Staff actions on the outbox: retry a failed email, cancel one, send a sent one again
(each audited). Sending is :mod:`linker_tui.mail.relay`'s, reading
:mod:`linker_tui.mail.queries`'."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock
from linker_tui.mail.relay import clip, rowcount, why_not_send
from linker_tui.store.db import write_session
from linker_tui.store.enums import OutboxStatus
from linker_tui.store.models import EmailOutbox
from linker_tui.workflow.trail import explain, record


# ------------------------------------------------------------ staff actions
class OutboxActionError(Exception):
    """A retry or cancel that does not apply; the message is meant for staff."""


def _staff_action(
    engine: Engine,
    outbox_id: int,
    clock: Clock,
    actor: Actor | None,
    *,
    action: str,
    verb: str,
    allowed: Sequence[OutboxStatus],
    values: dict[str, Any],
    detail: str,
) -> None:
    with write_session(engine) as session:
        row = session.get(EmailOutbox, outbox_id)
        if row is None:
            raise OutboxActionError("This email no longer exists.")
        before = row.status
        who = actor or Actor("", "")
        explain(session, action, detail, who, clock)  # PostgreSQL: its trigger writes the row
        changed = session.execute(
            sa.update(EmailOutbox)
            .where(
                col(EmailOutbox.id) == outbox_id,
                col(EmailOutbox.status).in_([s.value for s in allowed]),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if rowcount(changed) != 1:
            raise OutboxActionError(f"This email is {before}: it cannot be {verb}.")
        record(
            session,
            action=action,
            request_id=row.request_id,
            before={"outbox_id": outbox_id, "status": before},
            after={"outbox_id": outbox_id, "status": values["status"]},
            detail=detail,
            actor=who,
            clock=clock,
        )


def retry_email(engine: Engine, outbox_id: int, clock: Clock, actor: Actor | None = None) -> None:
    """Failed → queued, due now, attempts reset to 0 (the last error is kept until then)."""
    _staff_action(
        engine,
        outbox_id,
        clock,
        actor,
        action="email_retry",
        verb="sent again",
        allowed=(OutboxStatus.FAILED,),
        values={
            "status": OutboxStatus.QUEUED.value,
            "attempts": 0,
            "next_attempt_at": clock.now(),
            "claimed_by": "",
            "lease_until": None,
        },
        detail=f"email {outbox_id} queued again",
    )


def cancel_email(
    engine: Engine,
    outbox_id: int,
    clock: Clock,
    actor: Actor | None = None,
    reason: str = "",
) -> None:
    """Queued or failed → cancelled (an email being sent right now cannot be cancelled)."""
    who = actor.label if actor else "staff"
    text = clip(f"cancelled by {who}" + (f": {reason}" if reason else ""))
    _staff_action(
        engine,
        outbox_id,
        clock,
        actor,
        action="email_cancel",
        verb="cancelled",
        allowed=(OutboxStatus.QUEUED, OutboxStatus.FAILED),
        values={
            "status": OutboxStatus.CANCELLED.value,
            "last_error": text,
            "claimed_by": "",
            "lease_until": None,
        },
        detail=f"email {outbox_id} {text}",
    )


# ------------------------------------------------------------ resend
def resend_email(
    engine: Engine,
    outbox_id: int,
    clock: Clock,
    actor: Actor | None = None,
) -> int:
    """Send a sent email again: a new outbox row with the same recipient, subject, text
    and calendar invitation (and a new Message-ID, given when it is sent), queued and due
    now, audited (``email_resend``), in one transaction. The sent row and its history stay
    as they are. Refused (nothing changes) unless the email was sent and would still go
    out (:func:`linker_tui.mail.relay.why_not_send`). Returns the new row's id.

    The audit row's ``before`` is empty (there was no row), its ``after`` the new row; on
    PostgreSQL the database's insert trigger writes it (migration 0006)."""
    who = actor or Actor("", "")
    with write_session(engine) as session:
        row = session.get(EmailOutbox, outbox_id)
        if row is None:
            raise OutboxActionError("This email no longer exists.")
        if row.status != OutboxStatus.SENT:
            raise OutboxActionError(
                f"This email is {row.status}: only a sent email can be sent again."
            )
        _check_still_linked(session, row)
        now = clock.now()
        copy = EmailOutbox(
            request_id=row.request_id,
            appointment_id=row.appointment_id,
            to_address=row.to_address,
            to_name=row.to_name,
            subject=row.subject,
            body_text=row.body_text,
            body_html=row.body_html,
            ics=row.ics,
            status=OutboxStatus.QUEUED,
            created_at=now,
            next_attempt_at=now,
        )
        detail = f"queued to {row.to_address}: a copy of sent email {outbox_id}"
        explain(session, "email_resend", detail, who, clock)  # PostgreSQL: its trigger
        session.add(copy)
        session.flush()
        assert copy.id is not None
        record(
            session,
            action="email_resend",
            request_id=row.request_id,
            before={"outbox_id": None, "status": None},
            after={"outbox_id": copy.id, "status": OutboxStatus.QUEUED.value},
            detail=detail,
            actor=who,
            clock=clock,
        )
        return copy.id


def _check_still_linked(session: Session, row: EmailOutbox) -> None:
    """The confirmation still holds (else the relay would cancel the copy: say so now)."""
    reason = why_not_send(session, row)
    if reason:
        raise OutboxActionError(f"Not sent again: {reason}.")
