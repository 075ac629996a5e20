"""Read a folder of PMS CSV exports (``providers.csv``, ``patients.csv``, ``appointments.csv``).

Each bad row is reported with its file, line and reason, and the rest is read."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from linker_tui.models import AppointmentStatus

T = TypeVar("T")


@dataclass(frozen=True)
class RowProblem:
    """A row that could not be read."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class BadRow(ValueError):
    """Raised by a row parser; the message is the reason shown to staff."""


@dataclass(frozen=True)
class ProviderRow:
    """A row of ``providers.csv``."""

    pms_id: str
    abbr: str
    first_name: str
    last_name: str
    title: str
    active: bool


@dataclass(frozen=True)
class PatientRow:
    """A row of ``patients.csv``."""

    pms_id: str
    last_name: str
    first_name: str
    preferred_name: str
    birthdate: date | None
    email: str
    phone_home: str
    phone_mobile: str
    guarantor_pms_id: str
    no_email: bool


@dataclass(frozen=True)
class AppointmentRow:
    """A row of ``appointments.csv``; ``start`` is timezone-aware."""

    pms_id: str
    patient_pms_id: str
    provider_pms_id: str
    start: datetime
    duration_min: int
    operatory: str
    reason: str
    status: AppointmentStatus
    updated_at: datetime | None


@dataclass
class Export:
    """Everything read from an export folder, and the rows that were refused."""

    providers: list[ProviderRow] = field(default_factory=list)
    patients: list[PatientRow] = field(default_factory=list)
    appointments: list[AppointmentRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def _required(row: dict[str, str], column: str) -> str:
    value = (row.get(column) or "").strip()
    if not value:
        raise BadRow(f"{column} is missing")
    return value


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "y"}


def _birthdate(value: str | None) -> date | None:
    text = (value or "").strip()
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadRow(f"birthdate {text!r} is not a date (YYYY-MM-DD)") from exc


def _local_datetime(value: str, tz: ZoneInfo, column: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRow(f"{column} {value!r} is not an ISO 8601 date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _read(path: Path, parse: Callable[[dict[str, str]], T], problems: list[RowProblem]) -> list[T]:
    """Parse every data row of a CSV file (UTF-8, with or without BOM)."""
    rows: list[T] = []
    seen: set[str] = set()
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        problems.append(RowProblem(path.name, 0, f"cannot open: {exc.strerror}"))
        return rows
    with handle:
        reader = csv.DictReader(handle)
        try:
            for record in _records(reader):
                try:
                    item = parse(record)
                except BadRow as exc:
                    problems.append(RowProblem(path.name, reader.line_num, str(exc)))
                    continue
                key = str(getattr(item, "pms_id", ""))
                if key in seen:
                    problems.append(
                        RowProblem(path.name, reader.line_num, f"duplicate id {key!r}")
                    )
                    continue
                seen.add(key)
                rows.append(item)
        except UnicodeDecodeError as exc:
            problems.append(
                RowProblem(path.name, reader.line_num + 1, f"not UTF-8 text ({exc.reason})")
            )
    return rows


def _records(reader: csv.DictReader[str]) -> Iterator[dict[str, str]]:
    for record in reader:
        yield {k.strip(): (v or "") for k, v in record.items() if isinstance(k, str)}


def read_export(folder: Path, tz: ZoneInfo, shift: timedelta = timedelta(0)) -> Export:
    """Read the three export files; appointment dates are moved by ``shift``."""
    export = Export()
    export.providers = _read(folder / "providers.csv", _provider, export.problems)
    export.patients = _read(folder / "patients.csv", _patient, export.problems)
    known_providers = {p.pms_id for p in export.providers}
    known_patients = {p.pms_id for p in export.patients}

    def appointment(row: dict[str, str]) -> AppointmentRow:
        parsed = _appointment(row, tz, shift)
        if parsed.patient_pms_id not in known_patients:
            raise BadRow(f"unknown patient {parsed.patient_pms_id!r}")
        if parsed.provider_pms_id and parsed.provider_pms_id not in known_providers:
            raise BadRow(f"unknown provider {parsed.provider_pms_id!r}")
        return parsed

    export.appointments = _read(folder / "appointments.csv", appointment, export.problems)
    return export


def _provider(row: dict[str, str]) -> ProviderRow:
    return ProviderRow(
        pms_id=_required(row, "provider_id"),
        abbr=row.get("abbr", "").strip(),
        first_name=row.get("first_name", "").strip(),
        last_name=row.get("last_name", "").strip(),
        title=row.get("title", "").strip(),
        active=_flag(row.get("active", "1")),
    )


def _patient(row: dict[str, str]) -> PatientRow:
    return PatientRow(
        pms_id=_required(row, "patient_id"),
        last_name=_required(row, "last_name"),
        first_name=row.get("first_name", "").strip(),
        preferred_name=row.get("preferred_name", "").strip(),
        birthdate=_birthdate(row.get("birthdate")),
        email=row.get("email", "").strip(),
        phone_home=row.get("phone_home", "").strip(),
        phone_mobile=row.get("phone_mobile", "").strip(),
        guarantor_pms_id=row.get("guarantor_id", "").strip(),
        no_email=_flag(row.get("email_opt_out")),
    )


def _appointment(row: dict[str, str], tz: ZoneInfo, shift: timedelta) -> AppointmentRow:
    status_text = _required(row, "status").lower()
    try:
        status = AppointmentStatus(status_text)
    except ValueError as exc:
        raise BadRow(f"unknown status {status_text!r}") from exc
    duration_text = row.get("duration_min", "").strip() or "30"
    if not duration_text.isdigit() or int(duration_text) <= 0:
        raise BadRow(f"duration_min {duration_text!r} is not a positive whole number")
    updated_text = row.get("updated_at", "").strip()
    return AppointmentRow(
        pms_id=_required(row, "appointment_id"),
        patient_pms_id=_required(row, "patient_id"),
        provider_pms_id=row.get("provider_id", "").strip(),
        start=_local_datetime(_required(row, "start"), tz, "start") + shift,
        duration_min=int(duration_text),
        operatory=row.get("operatory", "").strip(),
        reason=row.get("reason", "").strip(),
        status=status,
        updated_at=_local_datetime(updated_text, tz, "updated_at") if updated_text else None,
    )
