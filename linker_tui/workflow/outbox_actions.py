"""Staff actions on the outbox: retry a failed email, cancel one, send a sent one again
(each audited; composed afresh when the PMS moved the appointment since). Sending is
:mod:`linker_tui.mail.relay`'s, reading :mod:`linker_tui.mail.queries`'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock
from linker_tui.mail.compose import calendar_entry
from linker_tui.mail.relay import clip, rowcount, why_not_send
from linker_tui.read.views import EmailPlan, appointment_view
from linker_tui.store.db import write_session
from linker_tui.store.enums import OutboxStatus
from linker_tui.store.models import Appointment, EmailOutbox, OnlineRequest, Patient, Provider
from linker_tui.workflow.practice import PracticeInfo, format_local
from linker_tui.workflow.trail import explain, record

if TYPE_CHECKING:
    from jinja2 import Environment


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
@dataclass(frozen=True)
class Composer:
    """What composing a confirmation afresh needs: the workflow's practice, timezone and
    templates (None: the packaged ones)."""

    practice: PracticeInfo
    tz: ZoneInfo
    templates: Environment | None = None


def resend_email(
    engine: Engine,
    outbox_id: int,
    clock: Clock,
    actor: Actor | None = None,
    *,
    composer: Composer | None = None,
) -> int:
    """Send a sent email again: a new outbox row with the same recipient, subject, text
    and calendar invitation (and a new Message-ID, given when it is sent), queued and due
    now, audited (``email_resend``), in one transaction. When the PMS moved the
    appointment since that email (its invitation's start is not the appointment's) and a
    ``composer`` is given, the new row is a confirmation composed afresh (a correction of
    what the patient has, as a relink's: same calendar entry, next SEQUENCE), not a copy
    of the old text. The sent row and its history stay as they are. Refused (nothing
    changes) unless the email was sent and would still go out
    (:func:`linker_tui.mail.relay.why_not_send`). Returns the new row's id.

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
        moved_to = _moved_since(session, row)
        if moved_to is not None and composer is not None:
            copy = _composed_afresh(session, row, composer, now)
            when = format_local(moved_to, composer.tz)
            detail = (
                f"queued to {row.to_address}: composed afresh, the appointment moved to "
                f"{when} since sent email {outbox_id}"
            )
        else:
            copy = _copy(row, now)
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


def _copy(row: EmailOutbox, now: datetime) -> EmailOutbox:
    """A new queued row with the sent one's recipient, text and invitation."""
    return EmailOutbox(
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


def _moved_since(session: Session, row: EmailOutbox) -> datetime | None:
    """The appointment's start now, when it is not the start the sent email's invitation
    gave (None: not moved, or the email had no invitation to tell)."""
    appointment = session.get(Appointment, row.appointment_id)
    entry = calendar_entry(row.ics)
    if appointment is None or entry is None or entry.start is None:
        return None
    return appointment.start if appointment.start != entry.start else None


def _composed_afresh(
    session: Session, row: EmailOutbox, composer: Composer, now: datetime
) -> EmailOutbox:
    """The confirmation of the appointment as the PMS has it now, to the same address,
    composed as a relink's correction is
    (:func:`~linker_tui.workflow.confirmation.confirmation_email`)."""
    from linker_tui.workflow.confirmation import confirmation_email, earlier_confirmation

    request = session.get(OnlineRequest, row.request_id)
    appointment = session.get(Appointment, row.appointment_id)
    assert request is not None and appointment is not None  # _check_still_linked
    provider_id = appointment.provider_id
    provider = session.get(Provider, provider_id) if provider_id is not None else None
    email, refused = confirmation_email(
        session,
        request,
        appointment_view(appointment, provider),
        session.get(Patient, appointment.patient_id),
        EmailPlan(address=row.to_address, send_by_default=True, note=""),
        earlier_confirmation(session, row.request_id),
        practice=composer.practice,
        tz=composer.tz,
        now=now,
        templates=composer.templates,
    )
    if email is None:
        raise OutboxActionError(f"Not sent again: the new confirmation does not build: {refused}.")
    email.status = OutboxStatus.QUEUED
    return email
