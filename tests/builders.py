"""Small helpers that put providers, patients, appointments and requests into a test database."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.matching import patient_keys
from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import AppointmentStatus, RequestState
from linker_tui.store.models import (
    Appointment,
    AuditEvent,
    EmailOutbox,
    OnlineRequest,
    Patient,
    PatientNameKey,
    Provider,
)

TZ = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
_ids = itertools.count(1)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time at the test practice."""
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def add_provider(engine: Engine, pms_id: str, first: str, last: str, title: str = "Dr.") -> int:
    with write_session(engine) as s:
        provider = Provider(
            pms_id=pms_id, abbr=pms_id, first_name=first, last_name=last, title=title
        )
        s.add(provider)
        s.flush()
        assert provider.id is not None
        return provider.id


def add_patient(
    engine: Engine,
    first: str,
    last: str,
    birthdate: date | None = None,
    *,
    email: str = "",
    phone: str = "",
    preferred: str = "",
    mobile: str = "",
    guarantor: str = "",
    no_email: bool = False,
) -> int:
    with write_session(engine) as s:
        keys = patient_keys(first, last, preferred, email, phone, mobile)
        patient = Patient(
            pms_id=f"P{next(_ids)}",
            first_name=first,
            last_name=last,
            preferred_name=preferred,
            birthdate=birthdate,
            email=email,
            phone_home=phone,
            phone_mobile=mobile,
            guarantor_pms_id=guarantor,
            no_email=no_email,
            **keys.columns(),
        )
        s.add(patient)
        s.flush()
        assert patient.id is not None
        for key in sorted(keys.last_name_alt_keys):
            s.add(PatientNameKey(patient_id=patient.id, key=key))
        return patient.id


def add_appointment(
    engine: Engine,
    patient_id: int,
    provider_id: int | None,
    start: datetime,
    *,
    status: AppointmentStatus = AppointmentStatus.SCHEDULED,
    operatory: str = "OP1",
    reason: str = "Cleaning",
    duration: int = 60,
) -> int:
    with write_session(engine) as s:
        appointment = Appointment(
            pms_id=f"A{next(_ids)}",
            patient_id=patient_id,
            provider_id=provider_id,
            start=start,
            duration_min=duration,
            operatory=operatory,
            reason=reason,
            status=status,
        )
        s.add(appointment)
        s.flush()
        assert appointment.id is not None
        return appointment.id


def add_request(
    engine: Engine,
    first: str,
    last: str,
    start: datetime,
    *,
    patient_id: int | None = None,
    provider_id: int | None = None,
    birthdate: date | None = None,
    email: str = "",
    phone: str = "",
    reason: str = "Cleaning",
    note: str = "",
    state: RequestState = RequestState.PENDING,
) -> int:
    with write_session(engine) as s:
        request = OnlineRequest(
            external_id=f"REQ-{next(_ids)}",
            received_at=datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
            typed_first_name=first,
            typed_last_name=last,
            typed_birthdate=birthdate,
            typed_email=email,
            typed_phone=phone,
            requested_start=start,
            requested_provider_id=provider_id,
            reason=reason,
            note=note,
            patient_id=patient_id,
            state=state,
        )
        s.add(request)
        s.flush()
        assert request.id is not None
        return request.id


def dump(engine: Engine) -> list[tuple[object, ...]]:
    """Every decision-relevant row, to compare a database before and after."""
    with read_session(engine) as s:
        rows: list[tuple[object, ...]] = []
        for r in s.exec(select(OnlineRequest).order_by(col(OnlineRequest.id))).all():
            rows.append(
                (
                    "request",
                    r.id,
                    r.state,
                    r.linked_appointment_id,
                    r.patient_id,
                    r.reject_reason,
                    r.decided_by,
                    r.decided_at,
                    r.version,
                )
            )
        for a in s.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all():
            rows.append(("audit", a.id, a.action, a.request_id, a.before, a.after))
        for e in s.exec(select(EmailOutbox).order_by(col(EmailOutbox.id))).all():
            rows.append(("email", e.id, e.request_id, e.status, e.to_address))
        for ap in s.exec(select(Appointment).order_by(col(Appointment.id))).all():
            rows.append(("appointment", ap.id, ap.status, ap.start))
        return rows


def empty_config(folder: Path) -> Path:
    """An empty settings file in ``folder`` (``LINKER_CONFIG`` must name a file that exists):
    the code under test sees the defaults and its own ``LINKER_*`` variables only."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "empty-config.toml"
    path.write_text("", encoding="utf-8")
    return path
