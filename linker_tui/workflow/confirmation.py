"""The confirmation email queued with a link, and the audit text of what the link corrected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlmodel import Session, col, func, select

from linker_tui.mail.compose import (
    CalendarEntry,
    ConfirmationFacts,
    calendar_entry,
    compose_confirmation,
)
from linker_tui.mail.message import InvalidHeader, build_message, new_message_id
from linker_tui.read.views import AppointmentView, EmailPlan
from linker_tui.store.enums import OutboxStatus
from linker_tui.store.models import EmailOutbox, OnlineRequest, Patient, Provider
from linker_tui.workflow.practice import PracticeInfo, format_local


def asked_provider(session: Session, request: OnlineRequest) -> str:
    """The name of the dentist the request asked for ("" when any)."""
    if request.requested_provider_id is None:
        return ""
    provider = session.get(Provider, request.requested_provider_id)
    return provider.display_name if provider else ""


def correction_text(
    session: Session, request: OnlineRequest, scheduled: AppointmentView, tz: ZoneInfo
) -> str:
    """The audit detail of a link: ``requested … -> scheduled … (appointment N)``."""
    asked = f"{format_local(request.requested_start, tz)} {asked_provider(session, request)}"
    booked = f"{format_local(scheduled.start, tz)} {scheduled.provider_name}".strip()
    return f"requested {asked.strip()} -> scheduled {booked} (appointment {scheduled.pms_id})"


GONE_OUT = (OutboxStatus.SENT.value, OutboxStatus.SENDING.value)
"""An email in these states has (most likely) reached the patient."""


@dataclass(frozen=True)
class EarlierConfirmation:
    """The last confirmation of a request that went out: a new link corrects it."""

    to_address: str
    sent_at: datetime | None
    entry: CalendarEntry


def earlier_confirmation(session: Session, request_id: int) -> EarlierConfirmation | None:
    """The request's last confirmation that was sent (or was being sent), if any."""
    email = session.exec(
        select(EmailOutbox)
        .where(EmailOutbox.request_id == request_id, col(EmailOutbox.status).in_(GONE_OUT))
        .order_by(col(EmailOutbox.id).desc())
    ).first()
    if email is None:
        return None
    entry = calendar_entry(email.ics) or CalendarEntry("", 0, None)
    return EarlierConfirmation(email.to_address, email.sent_at, entry)


def replaces_text(earlier: EarlierConfirmation | None, tz: ZoneInfo) -> str:
    """``Thu 2026-12-03 09:30, sent to x@y on Tue 2026-12-01 10:00`` (what the patient has)."""
    if earlier is None:
        return ""
    when = format_local(earlier.entry.start, tz) if earlier.entry.start else "an appointment"
    sent = f" on {format_local(earlier.sent_at, tz)}" if earlier.sent_at else ""
    return f"{when}, sent to {earlier.to_address}{sent}"


def _calendar_entry_to_write(
    session: Session, scheduled: AppointmentView, earlier: EarlierConfirmation | None
) -> tuple[str, int]:
    """The invitation's UID ("": the appointment's own) and SEQUENCE: a correction updates
    the calendar entry the patient already has; else each email about the appointment
    counts up."""
    if earlier is not None and earlier.entry.uid:
        return earlier.entry.uid, earlier.entry.sequence + 1
    count = session.exec(
        select(func.count()).where(EmailOutbox.appointment_id == scheduled.id)
    ).one()
    return "", int(count)


def confirmation_email(
    session: Session,
    request: OnlineRequest,
    scheduled: AppointmentView,
    patient: Patient | None,
    plan: EmailPlan,
    earlier: EarlierConfirmation | None,
    *,
    practice: PracticeInfo,
    tz: ZoneInfo,
    now: datetime,
    templates: Environment | None,
) -> tuple[EmailOutbox | None, str]:
    """The outbox row to queue: (the row, ""), or (None, why) when the message does not
    build (the link goes ahead without it); a correction of ``earlier`` when given."""
    name = (patient.preferred_name or patient.first_name) if patient else ""
    uid, sequence = _calendar_entry_to_write(session, scheduled, earlier)
    composed = compose_confirmation(
        ConfirmationFacts(
            patient_name=name or request.typed_first_name,
            scheduled_start=scheduled.start,
            duration_min=scheduled.duration_min,
            provider=scheduled.provider_name or "our team",
            requested_start=request.requested_start,
            practice_name=practice.name,
            practice_address=practice.address,
            practice_phone=practice.phone,
            practice_email=practice.email,
            appointment_pms_id=scheduled.pms_id,
            sequence=sequence,  # a later email about it updates the calendar entry
            stamp=now,
            requested_provider=asked_provider(session, request),
            replaces_start=(
                (earlier.entry.start or request.requested_start) if earlier is not None else None
            ),
            uid=uid,
        ),
        tz,
        templates,
    )
    assert request.id is not None
    email = EmailOutbox(
        request_id=request.id,
        appointment_id=scheduled.id,
        to_address=plan.address,
        to_name=f"{patient.first_name} {patient.last_name}" if patient else "",
        subject=composed.subject,
        body_text=composed.body_text,
        body_html=composed.body_html,
        ics=composed.ics,
        created_at=now,
        next_attempt_at=now,
        message_id=new_message_id(practice.email),
    )
    try:  # the relay builds it again when it sends; refuse it now if it cannot work
        build_message(email, practice.email, practice.name, now)
    except InvalidHeader as exc:
        return None, str(exc)
    return email, ""
