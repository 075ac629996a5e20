"""The confirmation email queued with a link, and the audit text of what the link corrected."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlmodel import Session, func, select

from linker_tui.mail.compose import ConfirmationFacts, compose_confirmation
from linker_tui.mail.message import InvalidHeader, build_message, new_message_id
from linker_tui.read.views import AppointmentView, EmailPlan
from linker_tui.store.models import EmailOutbox, OnlineRequest, Patient, Provider
from linker_tui.workflow.practice import PracticeInfo, format_local


def correction_text(
    session: Session, request: OnlineRequest, scheduled: AppointmentView, tz: ZoneInfo
) -> str:
    """The audit detail of a link: ``requested … -> scheduled … (appointment N)``."""
    requested_provider = (
        session.get(Provider, request.requested_provider_id)
        if request.requested_provider_id is not None
        else None
    )
    asked = format_local(request.requested_start, tz)
    if requested_provider:
        asked += f" {requested_provider.display_name}"
    booked = f"{format_local(scheduled.start, tz)} {scheduled.provider_name}".strip()
    return f"requested {asked} -> scheduled {booked} (appointment {scheduled.pms_id})"


def confirmation_email(
    session: Session,
    request: OnlineRequest,
    scheduled: AppointmentView,
    patient: Patient | None,
    plan: EmailPlan,
    *,
    practice: PracticeInfo,
    tz: ZoneInfo,
    now: datetime,
    templates: Environment | None,
) -> tuple[EmailOutbox | None, str]:
    """The confirmation's outbox row, to queue: (the row, ""), or (None, why) when the
    message does not build or read back intact (the link goes ahead without it)."""
    name = (patient.preferred_name or patient.first_name) if patient else ""
    earlier = session.exec(
        select(func.count()).where(EmailOutbox.appointment_id == scheduled.id)
    ).one()
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
            sequence=int(earlier),  # a later email about it updates the calendar entry
            stamp=now,
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
