"""Helpers for the sync tests: a small PMS export written as CSV files, and engines; PMS
rows written through the sync (:func:`load_patients`)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.ingest.pms_export import (
    APPOINTMENTS_FILE,
    PATIENTS_FILE,
    PROVIDERS_FILE,
    ExportFormat,
    PatientRow,
    ProviderRow,
)
from linker_tui.store.db import read_session
from linker_tui.store.models import Appointment, OnlineRequest, Patient, SyncState
from linker_tui.sync.connector import Changed, ChangeSet, TableChanges
from linker_tui.sync.control import StopFlag
from linker_tui.sync.csv_folder import CsvFolderConnector
from linker_tui.sync.engine import SyncEngine, SyncOptions
from linker_tui.sync.inbox import RequestInbox
from tests.builders import NOW, TZ

R = TypeVar("R")

PROVIDER_HEADER = ["provider_id", "abbr", "first_name", "last_name", "title", "active"]
PATIENT_HEADER = [
    "patient_id",
    "last_name",
    "first_name",
    "preferred_name",
    "birthdate",
    "email",
    "phone_home",
    "phone_mobile",
    "guarantor_id",
    "email_opt_out",
]
APPOINTMENT_HEADER = [
    "appointment_id",
    "patient_id",
    "provider_id",
    "start",
    "duration_min",
    "operatory",
    "reason",
    "status",
    "updated_at",
]


def provider(pms_id: str, first: str = "Amelia", last: str = "Chen") -> list[str]:
    return [pms_id, pms_id, first, last, "Dr.", "1"]


def patient(
    pms_id: str, first: str, last: str, birthdate: str = "1980-04-02", **extra: str
) -> list[str]:
    row = {
        "patient_id": pms_id,
        "last_name": last,
        "first_name": first,
        "preferred_name": "",
        "birthdate": birthdate,
        "email": f"{first.lower()}@example.com",
        "phone_home": "",
        "phone_mobile": "",
        "guarantor_id": pms_id,
        "email_opt_out": "0",
    }
    row.update(extra)
    return [row[c] for c in PATIENT_HEADER]


def appointment(
    pms_id: str,
    patient_id: str,
    start: str,
    provider_id: str = "DOC1",
    status: str = "scheduled",
    reason: str = "Cleaning",
    duration: str = "60",
) -> list[str]:
    return [
        pms_id,
        patient_id,
        provider_id,
        start,
        duration,
        "OP1",
        reason,
        status,
        "2026-11-20T10:00:00Z",
    ]


@dataclass
class ExportData:
    """The rows of an export, to change between runs."""

    providers: list[list[str]] = field(default_factory=list)
    patients: list[list[str]] = field(default_factory=list)
    appointments: list[list[str]] = field(default_factory=list)

    def write(self, folder: Path, *, age: float = 0.0) -> Path:
        """Write the three files (``age`` seconds old: the cursor trusts their mtime)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, header, rows in (
            ("providers.csv", PROVIDER_HEADER, self.providers),
            ("patients.csv", PATIENT_HEADER, self.patients),
            ("appointments.csv", APPOINTMENT_HEADER, self.appointments),
        ):
            path = folder / name
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
            if age:
                old = path.stat().st_mtime - age
                os.utime(path, (old, old))
        return folder


def sample() -> ExportData:
    """Two providers, three patients, five appointments (after NOW = 2026-11-27 09:00)."""
    return ExportData(
        providers=[provider("DOC1"), provider("DOC2", "Rahul", "Patel")],
        patients=[
            patient("1001", "William", "Hart", preferred_name="Bill"),
            patient("1002", "Zoë", "Lefèvre-Côté", "1990-01-02"),
            patient("1003", "Ava", "Brown", "2001-05-06"),
        ],
        appointments=[
            appointment("A1", "1001", "2026-11-20T09:00", status="completed"),
            appointment("A2", "1001", "2026-12-03T09:30"),
            appointment("A3", "1002", "2026-12-04T10:00", "DOC2"),
            appointment("A4", "1003", "2026-12-07T14:00", reason="Filling, composite"),
            appointment("A5", "1002", "2026-12-10T11:00", status="confirmed"),
        ],
    )


def many_appointments(count: int, patients: int) -> ExportData:
    """One provider, ``patients`` patients and ``count`` appointments spread over them and
    over December."""
    data = ExportData(
        providers=[provider("DOC1")],
        patients=[patient(str(1000 + i), "Pat", f"Num{i}") for i in range(patients)],
    )
    for i in range(count):
        data.appointments.append(
            appointment(f"A{i}", str(1000 + i % patients), f"2026-12-{1 + i % 27:02d}T09:00")
        )
    return data


def make_sync(
    engine: Engine,
    folder: Path | None,
    inbox: Path | None = None,
    *,
    clock: FixedClock | None = None,
    fmt: ExportFormat | None = None,
    **options: object,
) -> SyncEngine:
    """A sync engine at the fixed test time (NOW), reading ``folder`` and ``inbox``."""
    connector = CsvFolderConnector(folder, fmt or ExportFormat(TZ)) if folder else None
    return SyncEngine(
        engine,
        clock or FixedClock(NOW),
        Actor("sync", "desk-1"),
        SyncOptions(TZ, **options),  # type: ignore[arg-type]
        connector=connector,
        inbox=RequestInbox(inbox, TZ) if inbox else None,
    )


def fhir_request(
    rid: str, first: str = "Bill", last: str = "Hart", **extra: object
) -> dict[str, object]:
    resource: dict[str, object] = {
        "resourceType": "Appointment",
        "id": rid,
        "status": "proposed",
        "created": "2026-11-26T14:03:00-05:00",
        "reasonCode": [{"text": "Cleaning"}],
        "requestedPeriod": [
            {"start": "2026-12-03T09:30:00-05:00", "end": "2026-12-03T10:30:00-05:00"}
        ],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "p",
                "name": [{"family": last, "given": [first]}],
                "birthDate": "1980-04-02",
                "telecom": [{"system": "email", "value": f"{first.lower()}@example.com"}],
            }
        ],
        "participant": [
            {"actor": {"reference": "#p"}},
            {"actor": {"reference": "Practitioner/DOC1"}},
        ],
    }
    resource.update(extra)
    return resource


def drop_request(inbox: Path, name: str, resource: object, *, age: float = 60.0) -> Path:
    """Put a request file into the inbox (``age`` seconds old)."""
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    text = resource if isinstance(resource, str) else json.dumps(resource)
    path.write_text(text, encoding="utf-8")
    if age:
        old = path.stat().st_mtime - age
        os.utime(path, (old, old))
    return path


def snapshot(engine: Engine) -> list[tuple[object, ...]]:
    """Every PMS row, request and sync state, to compare a database before and after."""
    with read_session(engine) as s:
        rows: list[tuple[object, ...]] = []
        for p in s.exec(select(Patient).order_by(Patient.pms_id)).all():
            rows.append(("patient", p.pms_id, p.first_name, p.last_name, p.birthdate, p.email))
        for a in s.exec(select(Appointment).order_by(Appointment.pms_id)).all():
            rows.append(("appointment", a.pms_id, a.patient_id, a.start, a.status, a.reason))
        for r in s.exec(select(OnlineRequest).order_by(col(OnlineRequest.id))).all():
            rows.append(("request", r.external_id, r.state, r.attention, r.version))
        for st in s.exec(select(SyncState).order_by(SyncState.name)).all():
            rows.append(("state", st.name, st.run_id, st.cursor, st.data))
        return rows


def appointments_by_pms_id(engine: Engine) -> dict[str, Appointment]:
    with read_session(engine) as s:
        return {a.pms_id: a for a in s.exec(select(Appointment)).all()}


def shift_text(start: str, days: int) -> str:
    """``2026-12-03T09:30`` moved by ``days``."""
    from datetime import datetime

    return (datetime.fromisoformat(start) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def rows_of(items: Sequence[list[str]]) -> list[list[str]]:
    return [list(r) for r in items]


class RowsConnector:
    """PMS rows given in memory, for the real sync engine: the tests' and the matching
    evaluation's patients are written by the sync's own writers, with its search keys."""

    source = "rows"

    def __init__(
        self, patients: Sequence[PatientRow] = (), providers: Sequence[ProviderRow] = ()
    ) -> None:
        self.patients, self.providers = list(patients), list(providers)

    def cursor(self, stop: StopFlag) -> str:
        return str(len(self.providers) + len(self.patients))

    def changes(self, state: MutableMapping[str, bytes], stop: StopFlag) -> ChangeSet:
        def table(file: str, rows: Sequence[R]) -> TableChanges[R]:
            changed = [Changed(row, line, line) for line, row in enumerate(rows, 2)]
            return TableChanges(file, seen=len(rows), changed=changed)

        return ChangeSet(
            self.source,
            self.cursor(stop),
            table(PROVIDERS_FILE, self.providers),
            table(PATIENTS_FILE, self.patients),
            table(APPOINTMENTS_FILE, []),
        )


def load_patients(engine: Engine, patients: Sequence[PatientRow], region: str = "CA") -> None:
    """Write these patients through the sync (one run; refused rows fail the caller)."""
    sync = SyncEngine(
        engine,
        FixedClock(NOW),
        Actor("sync", "desk-1"),
        SyncOptions(TZ, phone_region=region),
        connector=RowsConnector(patients),
    )
    summary = sync.run(trigger="test", force=True)
    assert summary.ok and not summary.problems, summary.text()
