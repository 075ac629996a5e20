"""Write a PMS export and a folder of request files into the database.

Rows are upserted with set-based statements keyed on the PMS id, so loading the same
export twice changes nothing. Each load is one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from linker_tui.ingest.fhir import RequestFormatError, parse_request
from linker_tui.ingest.pms_export import Export, RowProblem
from linker_tui.matching import patient_keys
from linker_tui.matching.patient_search import rank_requests
from linker_tui.matching.request_match import record_ranking
from linker_tui.store.db import write_session
from linker_tui.store.models import Appointment, OnlineRequest, Patient, PatientNameKey, Provider

_CHUNK = 5_000


@dataclass
class LoadReport:
    """What a load wrote, and what it refused."""

    providers: int = 0
    patients: int = 0
    appointments: int = 0
    requests: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def _upsert(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update ``rows`` keyed on ``pms_id``, in chunks."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = [c for c in rows[0] if c != "pms_id"]
    for start in range(0, len(rows), _CHUNK):
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=["pms_id"],
            set_={c: statement.excluded[c] for c in columns},
        )
        session.execute(statement, list(rows[start : start + _CHUNK]))


def _id_map(session: Session, model: type[SQLModel]) -> dict[str, int]:
    table = model.__table__  # type: ignore[attr-defined]
    return {pms_id: id_ for id_, pms_id in session.execute(sa.select(table.c.id, table.c.pms_id))}


def _replace_name_keys(
    session: Session, patient_ids: Sequence[int], rows: Sequence[dict[str, Any]]
) -> None:
    """Replace the other surname keys of these patients (compound surnames only)."""
    table = PatientNameKey.__table__  # type: ignore[attr-defined]
    for start in range(0, len(patient_ids), _CHUNK):
        chunk = list(patient_ids[start : start + _CHUNK])
        session.execute(table.delete().where(table.c.patient_id.in_(chunk)))
    for start in range(0, len(rows), _CHUNK):
        session.execute(table.insert(), list(rows[start : start + _CHUNK]))


def load_export(engine: Engine, export: Export, phone_region: str = "CA") -> LoadReport:
    """Upsert the export's providers, patients and appointments in one transaction.

    Each patient's search keys are computed here; ``phone_region`` is where phone numbers
    without a country code are from (the ``phone_region`` setting).
    """
    report = LoadReport(problems=list(export.problems))
    with write_session(engine) as session:
        _upsert(session, Provider, [vars(p) for p in export.providers])
        keys = [
            patient_keys(
                p.first_name,
                p.last_name,
                p.preferred_name,
                p.email,
                p.phone_home,
                p.phone_mobile,
                phone_region,
            )
            for p in export.patients
        ]
        _upsert(
            session,
            Patient,
            [{**vars(p), **k.columns()} for p, k in zip(export.patients, keys, strict=True)],
        )
        providers, patients = _id_map(session, Provider), _id_map(session, Patient)
        _replace_name_keys(
            session,
            [patients[p.pms_id] for p in export.patients],
            [
                {"patient_id": patients[p.pms_id], "key": alt}
                for p, k in zip(export.patients, keys, strict=True)
                for alt in sorted(k.last_name_alt_keys)
            ],
        )
        _upsert(
            session,
            Appointment,
            [
                {
                    "pms_id": a.pms_id,
                    "patient_id": patients[a.patient_pms_id],
                    "provider_id": providers.get(a.provider_pms_id),
                    "start": a.start,
                    "duration_min": a.duration_min,
                    "operatory": a.operatory,
                    "reason": a.reason,
                    "status": a.status.value,
                    "pms_updated_at": a.updated_at,
                }
                for a in export.appointments
            ],
        )
    report.providers, report.patients = len(export.providers), len(export.patients)
    report.appointments = len(export.appointments)
    return report


def import_request_files(
    engine: Engine,
    files: Iterable[Path],
    tz: ZoneInfo,
    shift: timedelta = timedelta(0),
    phone_region: str = "CA",
) -> LoadReport:
    """Import FHIR request files (one request each); known ids are skipped.

    The patient is matched on arrival (only an exact match is kept; possible patients are
    offered to staff later); a file that cannot be read is reported and skipped.
    ``shift`` moves the request's times keeping their wall-clock time in ``tz`` (demo).
    """
    report = LoadReport()
    with write_session(engine) as session:
        providers = _id_map(session, Provider)
        known = set(session.exec(select(OnlineRequest.external_id)).all())
        arrived: list[OnlineRequest] = []
        for path in sorted(files):
            try:
                parsed = parse_request(json.loads(path.read_text(encoding="utf-8-sig")))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, RequestFormatError) as exc:
                report.problems.append(RowProblem(path.name, 0, str(exc)))
                continue
            if parsed.external_id in known:
                continue
            known.add(parsed.external_id)
            duration = None
            if parsed.requested_end is not None:
                length = parsed.requested_end - parsed.requested_start
                duration = int(length.total_seconds() // 60)
            request = OnlineRequest(
                external_id=parsed.external_id,
                received_at=parsed.received_at.astimezone(tz) + shift,
                typed_first_name=parsed.first_name,
                typed_last_name=parsed.last_name,
                typed_birthdate=parsed.birthdate,
                typed_email=parsed.email,
                typed_phone=parsed.phone,
                requested_start=parsed.requested_start.astimezone(tz) + shift,
                requested_duration_min=duration,
                requested_provider_id=providers.get(parsed.practitioner_pms_id),
                reason=parsed.reason,
                note=parsed.note,
            )
            arrived.append(request)
            report.requests += 1
        # Matched together (a few set-based lookups, not one search per request).
        for request, ranking in zip(
            arrived, rank_requests(session, arrived, phone_region), strict=True
        ):
            record_ranking(request, ranking)
            session.add(request)
    return report
