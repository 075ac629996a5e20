"""Reading PMS exports and request files through the one import path, the sync's: bad
rows are reported with file, line and reason, the rest is imported; request files are
matched to patients on arrival (the batch ranker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from linker_tui.ingest.fhir import ParsedRequest, RequestFormatError, read_request
from linker_tui.store.db import read_session
from linker_tui.store.models import Appointment, OnlineRequest, Patient
from linker_tui.sync.queries import sync_problems
from tests.sync_support import drop_request, make_sync

PROVIDERS = "provider_id,abbr,first_name,last_name,title,active\nDOC1,DOC1,Amelia,Chen,Dr.,1\n"
PATIENTS = (
    "patient_id,last_name,first_name,preferred_name,birthdate,email,phone_home,phone_mobile,"
    "guarantor_id,email_opt_out\n"
    "1001,Hart,William,Bill,1980-04-02,bill@example.com,416-555-0101,,1001,0\n"
    "1002,Lefèvre,Zoë,,0001-01-01,,,,1002,1\n"
    ",NoId,Person,,,,,,,0\n"
    "1003,Bad,Date,,1980-13-45,,,,,0\n"
)
APPOINTMENTS = (
    "appointment_id,patient_id,provider_id,start,duration_min,operatory,reason,status,updated_at\n"
    "A1,1001,DOC1,2026-12-03T09:30,60,OP1,Cleaning,scheduled,2026-11-20T10:00:00Z\n"
    "A2,1001,DOC1,not-a-date,60,OP1,Cleaning,scheduled,\n"
    "A3,1001,DOC9,2026-12-03T10:30,60,OP1,Cleaning,scheduled,\n"
    "A1,1001,DOC1,2026-12-04T09:30,60,OP1,Duplicate,scheduled,\n"
    "A4,9999,DOC1,2026-12-04T09:30,60,OP1,Ghost,scheduled,\n"
    "A5,1002,DOC1,2026-12-05T09:30,45,OP2,Filling,cancelled,\n"
)


def _export(folder: Path, bom: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "\ufeff" if bom else ""
    (folder / "providers.csv").write_text(prefix + PROVIDERS, encoding="utf-8")
    (folder / "patients.csv").write_text(prefix + PATIENTS, encoding="utf-8")
    (folder / "appointments.csv").write_text(prefix + APPOINTMENTS, encoding="utf-8")
    return folder


def _problems(engine: Engine, run_id: int | None) -> list[str]:
    assert run_id is not None
    return sorted(str(p) for p in sync_problems(engine, run_id))


def test_bad_rows_are_reported_with_file_line_and_reason(engine: Engine, tmp_path: Path) -> None:
    summary = make_sync(engine, _export(tmp_path / "x", bom=True)).run()
    assert summary.ok
    with read_session(engine) as s:
        patients = s.exec(select(Patient).order_by(Patient.pms_id)).all()
        appointments = s.exec(select(Appointment).order_by(Appointment.pms_id)).all()
    assert [p.pms_id for p in patients] == ["1001", "1002"]
    assert patients[1].birthdate is None  # 0001-01-01 means unknown
    assert [a.pms_id for a in appointments] == ["A1", "A5"]
    assert appointments[0].start.utcoffset() is not None
    assert _problems(engine, summary.run_id) == sorted(
        [
            "patients.csv:4: patient_id is missing",
            "patients.csv:5: birthdate '1980-13-45' is not a date (YYYY-MM-DD)",
            "appointments.csv:3: start 'not-a-date' is not an ISO 8601 date-time",
            "appointments.csv:4: unknown provider 'DOC9'",
            "appointments.csv:5: duplicate id 'A1'",
            "appointments.csv:6: unknown patient '9999'",
        ]
    )


def test_broken_encoding_is_reported(engine: Engine, tmp_path: Path) -> None:
    folder = _export(tmp_path / "x")
    (folder / "providers.csv").write_bytes(PROVIDERS.encode() + b"DOC2,D2,J\xe9r\xf4me,X,Dr.,1\n")
    summary = make_sync(engine, folder).run()
    assert "providers.csv:3: not UTF-8 text" in _problems(engine, summary.run_id)


def test_loading_twice_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    sync = make_sync(engine, _export(tmp_path / "x"))
    first = sync.run()
    again = sync.run(force=True)
    assert first.detail["providers_inserted"] == 1
    assert first.detail["patients_inserted"] == 2
    assert first.detail["appointments_inserted"] == 2
    assert (again.inserted, again.updated) == (0, 0)
    with read_session(engine) as s:
        assert s.exec(select(func.count()).select_from(Appointment)).one() == 2
        bill = s.exec(select(Patient).where(Patient.pms_id == "1001")).one()
        assert bill.first_name_key == "william" and bill.preferred_name == "Bill"


def _request(rid: str, **extra: object) -> dict[str, object]:
    resource: dict[str, object] = {
        "resourceType": "Appointment",
        "id": rid,
        "status": "proposed",
        "created": "2026-11-26T14:03:00-05:00",
        "reasonCode": [{"text": "Cleaning"}],
        "comment": "[b]please[/b]",
        "requestedPeriod": [
            {"start": "2026-12-03T09:30:00-05:00", "end": "2026-12-03T10:30:00-05:00"}
        ],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "p",
                "name": [{"family": "Hart", "given": ["Bill"]}],
                "birthDate": "1980-04-02",
                "telecom": [
                    {"system": "phone", "value": "416 555 0101"},
                    {"system": "email", "value": "bill@example.com"},
                ],
            }
        ],
        "participant": [
            {"actor": {"reference": "#p"}},
            {"actor": {"reference": "Practitioner/DOC1"}},
        ],
    }
    resource.update(extra)
    return resource


def _read(resource: dict[str, object]) -> ParsedRequest:
    return read_request(json.dumps(resource).encode())


def test_parse_fhir_request() -> None:
    parsed = _read(_request("R1"))
    assert (parsed.first_name, parsed.last_name, parsed.practitioner_pms_id) == (
        "Bill",
        "Hart",
        "DOC1",
    )
    assert parsed.requested_start.utcoffset() is not None and parsed.note == "[b]please[/b]"
    with pytest.raises(RequestFormatError, match="expected 'proposed'"):
        _read(_request("R1", status="booked"))
    with pytest.raises(RequestFormatError, match="no UTC offset"):
        _read(_request("R1", requestedPeriod=[{"start": "2026-12-03T09:30"}]))


def test_import_requests_matches_patients_skips_duplicates_and_reports_bad_files(
    engine: Engine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    drop_request(inbox, "a.json", _request("R1"))
    drop_request(inbox, "b.json", _request("R1"))
    drop_request(inbox, "c.json", "{not json")
    sync = make_sync(engine, _export(tmp_path / "x"), inbox)
    summary = sync.run()
    assert summary.requests_imported == 1
    assert any(p.startswith("c.json") for p in _problems(engine, summary.run_id))
    drop_request(inbox, "d.json", _request("R1"))  # sent again later: known, skipped
    assert sync.run(force=True).requests_imported == 0
    with read_session(engine) as s:
        request = s.exec(select(OnlineRequest)).one()
        bill = s.exec(select(Patient).where(Patient.pms_id == "1001")).one()
        assert request.patient_id == bill.id
        assert request.requested_duration_min == 60
