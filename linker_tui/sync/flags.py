"""What a run flags for staff: linked requests whose appointment was cancelled, removed
or moved, and waiting requests whose patient got (or lost) a bookable appointment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from linker_tui.store.enums import BOOKABLE_STATUSES, AppointmentStatus, RequestState
from linker_tui.store.models import OnlineRequest
from linker_tui.sync.appointment_writer import CANCELLED, WrittenIds
from linker_tui.sync.sql import RunSql
from linker_tui.workflow.attention import AttentionFlag
from linker_tui.workflow.checks import find_patient
from linker_tui.workflow.practice import format_local

WAITING = RequestState.WAITING_PMS
_NOTHING_TO_LINK = (
    "Flag cleared: the PMS no longer has a bookable appointment for this patient "
    "(cancelled, removed or taken off the schedule there)."
)


@dataclass(frozen=True)
class LinkedAppointment:
    """The appointment of a linked request, as it was before the run."""

    request_id: int
    appointment_id: int
    pms_id: str
    status: str
    start: Any  # as stored


@dataclass(frozen=True)
class FlagContext:
    """What the flags of waiting requests are worked out with."""

    session: Session
    sql: RunSql
    today: datetime  # the start of today in the practice's timezone
    tz: ZoneInfo
    phone_region: str


def linked_appointments(sql: RunSql, since: datetime) -> dict[int, LinkedAppointment]:
    """Appointments of linked requests from ``since`` on, by appointment id."""
    rows = sql.conn.exec_driver_sql(
        "SELECT r.id, a.id, a.pms_id, a.status, a.start FROM online_request r "
        "JOIN appointment a ON a.id = r.linked_appointment_id "
        f"WHERE r.state = {sql.param} AND a.start >= {sql.param}",
        (RequestState.LINKED.value, sql.stored_datetime(since)),
    ).all()
    return {
        a_id: LinkedAppointment(r_id, a_id, pms_id, status, start)
        for r_id, a_id, pms_id, status, start in rows
    }


def linked_flags(
    sql: RunSql, before: Mapping[int, LinkedAppointment], vanished: set[int], tz: ZoneInfo
) -> list[AttentionFlag]:
    """Linked requests whose appointment was cancelled, taken off the schedule, removed
    from the export or moved by this run."""
    if not before:
        return []
    rows = sql.select_in(
        "SELECT id, status, start FROM appointment WHERE id IN ({})", sorted(before)
    )
    flags = []
    for appointment_id, status, start in rows:
        old = before[appointment_id]
        when = format_local(sql.read_datetime(old.start), tz)
        what = f"The linked appointment {old.pms_id} on {when}"
        if appointment_id in vanished:
            text = (
                f"{what} is no longer in the PMS export (deleted there?): it counts as cancelled."
            )
        elif status != old.status and status == CANCELLED:
            text = f"{what} was cancelled in the PMS."
        elif status != old.status and status == AppointmentStatus.UNSCHEDULED.value:
            text = f"{what} was taken off the schedule in the PMS (unscheduled)."
        elif start != old.start and status in BOOKABLE_STATUSES:
            text = f"{what} was moved in the PMS to {format_local(sql.read_datetime(start), tz)}."
        else:
            continue
        flags.append(
            AttentionFlag(
                old.request_id, text, RequestState.LINKED, linked_appointment_id=appointment_id
            )
        )
    return flags


def watched_patients(ctx: FlagContext) -> frozenset[int]:
    """The patients of the waiting requests: each one's, or the one its sender's identity
    finds. Found before the run writes appointments: the flags below ask whether the run
    wrote an appointment of these patients alone (:class:`WrittenIds`)."""
    found = set()
    for request in ctx.session.exec(
        select(OnlineRequest).where(OnlineRequest.state == RequestState.WAITING_PMS.value)
    ).all():
        patient_id = (
            request.patient_id or find_patient(ctx.session, request, ctx.phone_region).patient_id
        )
        if patient_id is not None:
            found.add(patient_id)
    return frozenset(found)


def waiting_flags(
    ctx: FlagContext, written: WrittenIds, patients_changed: bool
) -> list[AttentionFlag]:
    """Waiting requests whose patient got a bookable appointment in this run."""
    if not written and not patients_changed:
        return []
    sql = ctx.sql
    found: dict[int, list[tuple[datetime, str]]] = {}
    rows = sql.conn.exec_driver_sql(
        "SELECT r.id, a.pms_id, a.start, a.patient_id FROM online_request r "
        "JOIN appointment a ON a.patient_id = r.patient_id "
        f"WHERE r.state = {sql.param} AND a.status IN ({sql.params(len(BOOKABLE_STATUSES))}) "
        f"AND a.start >= {sql.param} ORDER BY a.start",
        (RequestState.WAITING_PMS.value, *BOOKABLE_STATUSES, sql.stored_datetime(ctx.today)),
    ).all()
    for request_id, pms_id, start, patient_id in rows:
        if written.has(pms_id, patient_id):
            found.setdefault(request_id, []).append((sql.read_datetime(start), pms_id))
    unmatched = ctx.session.exec(
        select(OnlineRequest).where(
            OnlineRequest.state == RequestState.WAITING_PMS.value,
            col(OnlineRequest.patient_id).is_(None),
        )
    ).all()
    for request in unmatched:
        patient_id = find_patient(ctx.session, request, ctx.phone_region).patient_id
        if patient_id is None or request.id is None:
            continue
        bookable = _bookable(sql, _appointments_of(sql, patient_id), ctx.today)
        if any(written.has(pms_id, patient_id) for _, pms_id in bookable):
            found[request.id] = bookable
    return [
        AttentionFlag(request_id, _can_link_text(appointments, ctx.tz), WAITING)
        for request_id, appointments in found.items()
    ]


def stale_waiting_flags(
    ctx: FlagContext, written: WrittenIds, vanished: set[int], flags: Sequence[AttentionFlag]
) -> list[AttentionFlag]:
    """Waiting requests flagged "can link now" whose patient's appointments this run
    changed (cancelled, removed, moved, taken off the schedule): the flag is cleared
    when no bookable appointment is left, else says what is left now."""
    if not written and not vanished:
        return []
    flagged_now = {flag.request_id for flag in flags}
    out = []
    for request in ctx.session.exec(
        select(OnlineRequest).where(
            OnlineRequest.state == RequestState.WAITING_PMS.value,
            OnlineRequest.attention != "",
        )
    ).all():
        if request.id is None or request.id in flagged_now:
            continue
        patient_id = (
            request.patient_id or find_patient(ctx.session, request, ctx.phone_region).patient_id
        )
        rows = _appointments_of(ctx.sql, patient_id) if patient_id is not None else []
        changed = (written.has(pms_id, patient_id) or id_ in vanished for id_, pms_id, *_ in rows)
        if rows and not any(changed):
            continue  # none of its appointments changed in this run
        bookable = _bookable(ctx.sql, rows, ctx.today)
        if not bookable:
            out.append(AttentionFlag(request.id, "", WAITING, note=_NOTHING_TO_LINK))
            continue
        text = _can_link_text(bookable, ctx.tz)
        if text != request.attention:
            out.append(AttentionFlag(request.id, text, WAITING))
    return out


def _appointments_of(sql: RunSql, patient_id: int) -> list[tuple[int, str, str, Any]]:
    """(id, pms_id, status, start as stored) of a patient's appointments."""
    rows = sql.conn.exec_driver_sql(
        f"SELECT id, pms_id, status, start FROM appointment WHERE patient_id = {sql.param}",
        (patient_id,),
    ).all()
    return [(id_, pms_id, status, start) for id_, pms_id, status, start in rows]


def _bookable(
    sql: RunSql, rows: Sequence[tuple[int, str, str, Any]], today: datetime
) -> list[tuple[datetime, str]]:
    """(start, pms_id) of the appointments that can be linked, from today on, by start."""
    found = [
        (sql.read_datetime(start), pms_id)
        for _id, pms_id, status, start in rows
        if status in BOOKABLE_STATUSES
    ]
    return sorted(item for item in found if item[0] >= today)


def _can_link_text(appointments: Sequence[tuple[datetime, str]], tz: ZoneInfo) -> str:
    """The flag of a waiting request whose patient has these appointments (by start)."""
    first, pms_id = appointments[0]
    when = format_local(first, tz)
    if len(appointments) == 1:
        return f"The PMS now has an appointment for this patient: {when} ({pms_id})."
    return (
        f"The PMS now has {len(appointments)} appointments for this patient, "
        f"the first {when} ({pms_id})."
    )
