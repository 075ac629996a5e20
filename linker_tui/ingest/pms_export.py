"""Read a folder of PMS CSV exports (``providers.csv``, ``patients.csv``, ``appointments.csv``).

Each bad row is reported with its file, line and reason, and the rest is read. The column
layout, date formats and status words are documented in ``docs/sync.md``.

Two layers:

* :func:`linker_tui.ingest.csv_file.read_csv` reads a file's records with the :mod:`csv` module
  (the one CSV read path), and :func:`header_problem` / :func:`record_problem` say why a
  header or a record cannot be used (a duplicated column, the wrong number of values);
* :class:`RowParser` turns a record (a dict of column → text) into a typed row, with the
  configured date formats and status table (:class:`ExportFormat`).

:func:`read_export` reads a whole folder (tests, benchmarks, the matching evaluation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import compress, repeat
from operator import is_, not_
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from linker_tui.common.clock import storable
from linker_tui.ingest.csv_file import not_utf8, read_csv
from linker_tui.settings.config import IGNORE
from linker_tui.store.enums import AppointmentStatus

T = TypeVar("T")

PROVIDERS_FILE, PATIENTS_FILE, APPOINTMENTS_FILE = (
    "providers.csv",
    "patients.csv",
    "appointments.csv",
)
#: The id column of each file.
ID_COLUMNS = {
    PROVIDERS_FILE: "provider_id",
    PATIENTS_FILE: "patient_id",
    APPOINTMENTS_FILE: "appointment_id",
}
#: Columns a file must have (the others are optional).
REQUIRED_COLUMNS = {
    PROVIDERS_FILE: ("provider_id",),
    PATIENTS_FILE: ("patient_id", "last_name"),
    APPOINTMENTS_FILE: ("appointment_id", "patient_id", "start", "status"),
}

#: A status word mapped to this is not an appointment (e.g. Open Dental's patient notes):
#: the row is skipped without a problem.

#: Status words of common PMSs → linker_tui's statuses. Keys are compared without case,
#: spaces, ``-`` or ``_`` (``"No Show"`` = ``noshow``). The ``sync_status_map`` setting adds
#: or overrides entries.
DEFAULT_STATUS_MAP: dict[str, str] = {
    # linker_tui's own words
    "scheduled": "scheduled",
    "confirmed": "confirmed",
    "completed": "completed",
    "cancelled": "cancelled",
    "broken": "broken",
    "unscheduled": "unscheduled",
    # common PMS words (Open Dental, Dentrix, Eaglesoft, ABELDent, FHIR)
    "sched": "scheduled",
    "booked": "scheduled",
    "pending": "scheduled",
    "active": "scheduled",
    "conf": "confirmed",
    "arrived": "confirmed",
    "checkedin": "confirmed",
    "inchair": "confirmed",
    "complete": "completed",
    "done": "completed",
    "fulfilled": "completed",
    "checkedout": "completed",
    "canceled": "cancelled",
    "cancel": "cancelled",
    "deleted": "cancelled",
    "enteredinerror": "cancelled",
    "noshow": "broken",
    "failed": "broken",
    "missed": "broken",
    "unschedlist": "unscheduled",
    "unsched": "unscheduled",
    "asap": "unscheduled",
    "waitlist": "unscheduled",
    "planned": "unscheduled",
    "ptnote": IGNORE,
    "ptnotecompleted": IGNORE,
    # Open Dental's appointment.AptStatus numbers
    "1": "scheduled",
    "2": "completed",
    "3": "unscheduled",
    "5": "broken",
    "6": "unscheduled",
    "7": IGNORE,
    "8": IGNORE,
}


def status_word(text: str) -> str:
    """A status word as the status table compares it: ``"Unsched List"`` → ``unschedlist``."""
    return "".join(ch for ch in text.casefold() if ch not in " -_\t")


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


class IgnoredRow(Exception):
    """Raised by a row parser for a row that is no appointment (mapped to ``ignore``)."""


@dataclass
class ProviderRow:
    """A row of ``providers.csv``."""

    pms_id: str
    abbr: str
    first_name: str
    last_name: str
    title: str
    active: bool


@dataclass
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


@dataclass(slots=True)
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


#: The fields of :class:`AppointmentRow`, in order.
APPOINTMENT_FIELDS = (
    "pms_id",
    "patient_pms_id",
    "provider_pms_id",
    "start",
    "duration_min",
    "operatory",
    "reason",
    "status",
    "updated_at",
)


@dataclass
class AppointmentColumns:
    """Appointments column by column: a list per field of :class:`AppointmentRow` (a
    million rows cost a few lists instead of a million objects)."""

    pms_id: list[str] = field(default_factory=list)
    patient_pms_id: list[str] = field(default_factory=list)
    provider_pms_id: list[str] = field(default_factory=list)
    start: list[datetime] = field(default_factory=list)
    duration_min: list[int] = field(default_factory=list)
    operatory: list[str] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    status: list[AppointmentStatus] = field(default_factory=list)
    updated_at: list[datetime | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pms_id)

    def lists(self) -> list[list[Any]]:
        """The lists, in the order of :data:`APPOINTMENT_FIELDS`."""
        return [getattr(self, name) for name in APPOINTMENT_FIELDS]

    @classmethod
    def of(cls, rows: Iterable[AppointmentRow]) -> AppointmentColumns:
        """The columns of these rows."""
        out = cls()
        for row in rows:
            out.append(row)
        return out

    def append(self, row: AppointmentRow) -> None:
        """Add one row."""
        for values, name in zip(self.lists(), APPOINTMENT_FIELDS, strict=True):
            values.append(getattr(row, name))

    def extend(self, other: AppointmentColumns, keep: Sequence[bool] | None = None) -> None:
        """Add the rows of ``other`` (those whose ``keep`` is true)."""
        for mine, theirs in zip(self.lists(), other.lists(), strict=True):
            mine.extend(theirs if keep is None else compress(theirs, keep))

    def slice(self, first: int, end: int) -> AppointmentColumns:
        """Rows ``first`` to ``end``."""
        return AppointmentColumns(*(values[first:end] for values in self.lists()))

    def row(self, index: int) -> AppointmentRow:
        """One row as an object."""
        return AppointmentRow(*(values[index] for values in self.lists()))


@dataclass
class Export:
    """Everything read from an export folder, and the rows that were refused."""

    providers: list[ProviderRow] = field(default_factory=list)
    patients: list[PatientRow] = field(default_factory=list)
    appointments: list[AppointmentRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class ExportFormat:
    """How to read an export: timezone of naive times, date formats, the status table.

    ``date_format`` / ``datetime_format`` are ``strptime`` formats tried before ISO 8601
    (empty: ISO 8601 only). ``shift`` moves every appointment start (the demo).
    """

    tz: ZoneInfo
    shift: timedelta = timedelta(0)
    date_format: str = ""
    datetime_format: str = ""
    status_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUS_MAP))

    @classmethod
    def with_statuses(
        cls,
        tz: ZoneInfo,
        extra_statuses: Mapping[str, str] | None = None,
        **options: object,
    ) -> ExportFormat:
        """The default status table with ``extra_statuses`` added or overriding."""
        table = dict(DEFAULT_STATUS_MAP)
        for word, target in (extra_statuses or {}).items():
            table[status_word(word)] = target.strip().lower()
        return cls(tz, status_map=table, **options)  # type: ignore[arg-type]

    def fingerprint(self) -> bytes:
        """Changes whenever a setting would read the same text differently."""
        text = json.dumps(
            [
                str(self.tz),
                self.shift.total_seconds(),
                self.date_format,
                self.datetime_format,
                sorted(self.status_map.items()),
            ]
        )
        return hashlib.sha256(text.encode()).digest()


# ------------------------------------------------------------------ rows, typed


#: The longest id the database keeps (``pms_id`` columns).
MAX_ID_LENGTH = 64


def _storable(moment: datetime, column: str) -> datetime:
    try:
        return storable(moment)
    except ValueError as exc:
        raise BadRow(f"{column} {moment.isoformat()!r}: {exc}") from None


def _checked_id(text: str, column: str) -> str:
    if not text:
        raise BadRow(f"{column} is missing")
    if len(text) > MAX_ID_LENGTH:
        raise BadRow(f"{column} is longer than {MAX_ID_LENGTH} characters")
    return text


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "y"}


Reader = Callable[[list[str]], T]
AppointmentBulkReader = Callable[[Sequence[Sequence[str]]], "tuple[AppointmentColumns, list[bool]]"]


_REFUSED: Any = object()  # a text the bulk reader leaves to the row reader
_NEW: Any = object()  # a text not converted yet


class RowParser:
    """Turns records into typed rows with an :class:`ExportFormat`.

    :meth:`reader` binds a file's columns once and returns a function of a record's
    values (a record read by :func:`linker_tui.ingest.csv_file.read_csv`, and one more value, empty,
    for a column the file lacks); :meth:`provider`, :meth:`patient` and
    :meth:`appointment` read a dict of column → text.
    """

    def __init__(self, fmt: ExportFormat) -> None:
        self.fmt = fmt
        self._starts: dict[str, datetime] = {}  # appointment starts repeat: parse each once
        self._statuses: dict[str, AppointmentStatus | None] = {}
        self._readers: dict[tuple[str, tuple[str, ...]], Callable[[list[str]], object]] = {}

    # -- values
    def birthdate(self, value: str) -> date | None:
        """A birthdate; empty or ``0001-01-01`` means unknown."""
        text = value.strip()
        if not text or text.startswith("0001-01-01"):
            return None
        if self.fmt.date_format:
            try:
                return datetime.strptime(text, self.fmt.date_format).date()
            except ValueError:
                pass
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            expected = "YYYY-MM-DD"
            if self.fmt.date_format:
                expected += f" or {self.fmt.date_format}"
            raise BadRow(f"birthdate {text!r} is not a date ({expected})") from exc

    def moment(self, value: str, column: str) -> datetime:
        """A date-time; without an offset it is wall time in the practice's timezone."""
        moment: datetime | None = None
        if self.fmt.datetime_format:
            try:
                moment = datetime.strptime(value, self.fmt.datetime_format)
            except ValueError:
                moment = None
        if moment is None:
            try:
                moment = datetime.fromisoformat(value)  # with "Z" too (Python 3.11)
            except ValueError as exc:
                expected = "an ISO 8601 date-time"
                if self.fmt.datetime_format:
                    expected += f" or {self.fmt.datetime_format}"
                raise BadRow(f"{column} {value!r} is not {expected}") from exc
        return _storable(moment if moment.tzinfo else moment.replace(tzinfo=self.fmt.tz), column)

    def start(self, value: str) -> datetime:
        """An appointment start, moved by the format's shift."""
        found = self._starts.get(value)
        if found is None:
            found = self.moment(value, "start") + self.fmt.shift
            self._starts[value] = found
        return found

    def status(self, value: str) -> AppointmentStatus:
        """A status word through the status table (raises IgnoredRow for ``ignore``)."""
        try:
            found = self._statuses[value]
        except KeyError:
            target = self.fmt.status_map.get(status_word(value))
            if target is None:
                raise BadRow(f"unknown status {value.strip().lower()!r}") from None
            found = None if target == IGNORE else AppointmentStatus(target)
            self._statuses[value] = found
        if found is None:
            raise IgnoredRow(value)
        return found

    # -- rows
    def reader(self, file: str, columns: Sequence[str]) -> Callable[[list[str]], object]:
        """The row reader of ``file`` (one of the three) for a header of ``columns``."""
        key = (file, tuple(columns))
        found = self._readers.get(key)
        if found is None:
            make = {
                PROVIDERS_FILE: self._provider_reader,
                PATIENTS_FILE: self._patient_reader,
                APPOINTMENTS_FILE: self._appointment_reader,
            }[file]
            found = self._readers[key] = make(list(columns))
        return found

    def provider(self, row: Mapping[str, str]) -> ProviderRow:
        """A ``providers.csv`` row."""
        return self._from_mapping(PROVIDERS_FILE, row)  # type: ignore[return-value]

    def patient(self, row: Mapping[str, str]) -> PatientRow:
        """A ``patients.csv`` row."""
        return self._from_mapping(PATIENTS_FILE, row)  # type: ignore[return-value]

    def appointment(self, row: Mapping[str, str]) -> AppointmentRow:
        """An ``appointments.csv`` row (references to patients/providers not checked)."""
        return self._from_mapping(APPOINTMENTS_FILE, row)  # type: ignore[return-value]

    def _from_mapping(self, file: str, row: Mapping[str, str]) -> object:
        names = [str(k) for k in row]
        return self.reader(file, names)([*(v or "" for v in row.values()), ""])

    def _provider_reader(self, columns: list[str]) -> Reader[ProviderRow]:
        pad = len(columns)
        at = {c: i for i, c in enumerate(columns)}
        i_id, i_abbr, i_first, i_last, i_title = (
            at.get(c, pad) for c in ("provider_id", "abbr", "first_name", "last_name", "title")
        )
        i_active = at.get("active")

        def read(v: list[str]) -> ProviderRow:
            pms_id = _checked_id(v[i_id].strip(), "provider_id")
            abbr = v[i_abbr].strip()
            if len(abbr) > 32:
                raise BadRow("abbr is longer than 32 characters")
            return ProviderRow(
                pms_id,
                abbr,
                v[i_first].strip(),
                v[i_last].strip(),
                v[i_title].strip(),
                True if i_active is None else _flag(v[i_active]),
            )

        return read

    def _patient_reader(self, columns: list[str]) -> Reader[PatientRow]:
        pad = len(columns)
        at = {c: i for i, c in enumerate(columns)}
        names = (
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
        )
        i_id, i_last, i_first, i_pref, i_birth, i_email, i_home, i_mobile, i_guar, i_opt = (
            at.get(c, pad) for c in names
        )
        birthdate = self.birthdate

        def read(v: list[str]) -> PatientRow:
            pms_id = _checked_id(v[i_id].strip(), "patient_id")
            last = v[i_last].strip()
            if not last:
                raise BadRow("last_name is missing")
            return PatientRow(
                pms_id,
                last,
                v[i_first].strip(),
                v[i_pref].strip(),
                birthdate(v[i_birth]),
                v[i_email].strip(),
                v[i_home].strip(),
                v[i_mobile].strip(),
                v[i_guar].strip(),
                _flag(v[i_opt]),
            )

        return read

    def _appointment_columns(self) -> _AppointmentColumns:
        """The converters of the appointment columns that need more than ``strip``
        (shared by the row reader and the bulk reader, so both read alike)."""
        start, status, moment = self.start, self.status, self.moment
        iso_only, tz, fromiso = not self.fmt.datetime_format, self.fmt.tz, datetime.fromisoformat

        def state_of(raw: str) -> AppointmentStatus:
            word = raw.strip()
            if not word:
                raise BadRow("status is missing")
            return status(word)

        def minutes_of(raw: str) -> int:
            duration = raw.strip() or "30"
            minutes = int(duration) if duration.isdigit() else 0
            if minutes <= 0:
                raise BadRow(f"duration_min {duration!r} is not a positive whole number")
            return minutes

        def start_of(raw: str) -> datetime:
            when = raw.strip()
            if not when:
                raise BadRow("start is missing")
            return start(when)

        def updated_of(raw: str) -> datetime | None:
            text = raw.strip()
            if not text:
                return None
            if iso_only:
                try:
                    found = fromiso(text)
                except ValueError:
                    pass
                else:
                    found = found if found.tzinfo else found.replace(tzinfo=tz)
                    return _storable(found, "updated_at")
            return moment(text, "updated_at")

        return _AppointmentColumns(state_of, minutes_of, start_of, updated_of)

    def _appointment_reader(self, columns: list[str]) -> Reader[AppointmentRow]:
        i_id, i_pat, i_prov, i_start, i_dur, i_op, i_reason, i_status, i_upd = _appointment_indexes(
            columns
        )
        convert = self._appointment_columns()
        state_of, minutes_of, start_of, updated_of = (
            convert.state,
            convert.minutes,
            convert.start,
            convert.updated_at,
        )

        def read(v: list[str]) -> AppointmentRow:
            pms_id = _checked_id(v[i_id].strip(), "appointment_id")
            state = state_of(v[i_status])
            minutes = minutes_of(v[i_dur])
            patient = _checked_id(v[i_pat].strip(), "patient_id")
            when = start_of(v[i_start])
            return AppointmentRow(
                pms_id,
                patient,
                v[i_prov].strip(),
                when,
                minutes,
                v[i_op].strip(),
                v[i_reason].strip(),
                state,
                updated_of(v[i_upd]),
            )

        return read

    def appointment_bulk(self, columns: Sequence[str]) -> AppointmentBulkReader:
        """The bulk reader of ``appointments.csv`` for a header of ``columns``: given the
        values column by column (the header's width each), the rows' columns and, per
        row, whether it was read; a row that was not is left to the row reader
        (:meth:`reader`), which says why. A row read here is what the row reader reads.

        A column at a time: each distinct text of a column is converted once, with the
        row reader's converters."""
        i_id, i_pat, i_prov, i_start, i_dur, i_op, i_reason, i_status, i_upd = _appointment_indexes(
            columns
        )
        convert = self._appointment_columns()
        # text → value, or _REFUSED (kept across calls: the texts repeat)
        known: tuple[dict[str, Any], ...] = ({}, {}, {}, {})

        def converted(
            table: dict[str, Any], texts: Sequence[str], read: Callable[[str], Any]
        ) -> list[Any]:
            values = list(map(table.get, texts, repeat(_NEW)))
            if not any(map(is_, values, repeat(_NEW))):
                return values
            for text in set(compress(texts, map(is_, values, repeat(_NEW)))):
                try:
                    table[text] = read(text)
                except (BadRow, IgnoredRow, ValueError):
                    table[text] = _REFUSED
            return list(map(table.__getitem__, texts))

        def bulk(texts: Sequence[Sequence[str]]) -> tuple[AppointmentColumns, list[bool]]:
            count = len(texts[0]) if texts else 0
            if not count:
                return AppointmentColumns(), []
            table = [*texts, ("",) * count]  # and a column the file does not have
            out = AppointmentColumns(
                list(map(str.strip, table[i_id])),
                list(map(str.strip, table[i_pat])),
                list(map(str.strip, table[i_prov])),
                converted(known[2], table[i_start], convert.start),
                converted(known[1], table[i_dur], convert.minutes),
                list(map(str.strip, table[i_op])),
                list(map(str.strip, table[i_reason])),
                converted(known[0], table[i_status], convert.state),
                converted(known[3], table[i_upd], convert.updated_at),
            )
            refused: set[int] = set()
            for texts in (out.pms_id, out.patient_pms_id):
                if "" in texts:
                    refused.update(compress(range(count), map(not_, texts)))
                if max(map(len, texts)) > MAX_ID_LENGTH:
                    refused.update(i for i, text in enumerate(texts) if len(text) > MAX_ID_LENGTH)
            for values in (out.start, out.duration_min, out.status, out.updated_at):
                if any(map(is_, values, repeat(_REFUSED))):
                    refused.update(compress(range(count), map(is_, values, repeat(_REFUSED))))
            keep = [True] * count
            for index in refused:
                keep[index] = False
            return out, keep

        return bulk


_APPOINTMENT_NAMES = (
    "appointment_id",
    "patient_id",
    "provider_id",
    "start",
    "duration_min",
    "operatory",
    "reason",
    "status",
    "updated_at",
)


def _appointment_indexes(columns: Sequence[str]) -> list[int]:
    """Where each of :data:`_APPOINTMENT_NAMES` is (``len(columns)``: the padding)."""
    at = {c: i for i, c in enumerate(columns)}
    return [at.get(c, len(columns)) for c in _APPOINTMENT_NAMES]


class _AppointmentColumns(NamedTuple):
    """Text → value of the appointment columns; each raises BadRow (or IgnoredRow)."""

    state: Callable[[str], AppointmentStatus]
    minutes: Callable[[str], int]
    start: Callable[[str], datetime]
    updated_at: Callable[[str], datetime | None]


def missing_columns(file: str, columns: Sequence[str]) -> list[str]:
    """Required columns the header lacks."""
    return [c for c in REQUIRED_COLUMNS[file] if c not in columns]


def header_problem(file: str, columns: Sequence[str]) -> str:
    """Why a file with this header cannot be read ("" if it can): a column named twice,
    or a required one missing."""
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    if twice:
        return f"the header names column(s) twice: {', '.join(twice)}"
    missing = missing_columns(file, columns) if file in REQUIRED_COLUMNS else []
    return f"missing column(s): {', '.join(missing)}" if missing else ""


def record_problem(values: Sequence[str], width: int, utf8: bool) -> str:
    """Why a record cannot be read ("" if it can): not ``width`` values (the header's),
    or (``utf8`` false: the file is not all UTF-8) a byte that is not UTF-8."""
    if len(values) != width:
        return f"{len(values)} values where the header has {width} columns"
    if not utf8 and not_utf8(values):
        return "not UTF-8 text"
    return ""


def read_file_rows(
    path: Path,
    read: Callable[[Sequence[str]], Callable[[list[str]], T]],
    problems: list[RowProblem],
) -> list[T]:
    """Parse every data row of a CSV file with the reader ``read(columns)`` returns;
    duplicates of an id already read and bad rows go to ``problems``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(RowProblem(path.name, 0, f"cannot open: {exc.strerror}"))
        return []
    table = read_csv(data)
    reason = header_problem(path.name, table.columns)
    if reason:
        problems.append(RowProblem(path.name, table.header_line, reason))
        return []
    parse = read(table.columns)
    width = len(table.columns)
    rows: list[T] = []
    seen: set[str] = set()
    for chunk in table.chunks:
        problems.extend(RowProblem(path.name, line, why) for line, why in chunk.unreadable)
        for line, values in zip(chunk.lines, chunk.rows, strict=True):
            try:
                reason = record_problem(values, width, table.utf8)
                if reason:
                    raise BadRow(reason)
                item = parse([*values, ""])
            except BadRow as exc:
                problems.append(RowProblem(path.name, line, str(exc)))
                continue
            except IgnoredRow:
                continue
            key = str(getattr(item, "pms_id", ""))
            if key in seen:
                problems.append(RowProblem(path.name, line, f"duplicate id {key!r}"))
                continue
            seen.add(key)
            rows.append(item)
    return rows


def read_export(
    folder: Path, tz: ZoneInfo, shift: timedelta = timedelta(0), fmt: ExportFormat | None = None
) -> Export:
    """Read the three export files; appointment dates are moved by ``shift``."""
    parser = RowParser(fmt or ExportFormat(tz, shift))
    export = Export()

    def bind(file: str) -> Callable[[Sequence[str]], Callable[[list[str]], Any]]:
        return lambda columns: parser.reader(file, columns)

    export.providers = read_file_rows(
        folder / PROVIDERS_FILE, bind(PROVIDERS_FILE), export.problems
    )
    export.patients = read_file_rows(folder / PATIENTS_FILE, bind(PATIENTS_FILE), export.problems)
    known_providers = {p.pms_id for p in export.providers}
    known_patients = {p.pms_id for p in export.patients}

    def appointments(columns: Sequence[str]) -> Callable[[list[str]], AppointmentRow]:
        read = parser.reader(APPOINTMENTS_FILE, columns)

        def checked(values: list[str]) -> AppointmentRow:
            parsed = read(values)
            assert isinstance(parsed, AppointmentRow)
            if parsed.patient_pms_id not in known_patients:
                raise BadRow(f"unknown patient {parsed.patient_pms_id!r}")
            if parsed.provider_pms_id and parsed.provider_pms_id not in known_providers:
                raise BadRow(f"unknown provider {parsed.provider_pms_id!r}")
            return parsed

        return checked

    export.appointments = read_file_rows(folder / APPOINTMENTS_FILE, appointments, export.problems)
    return export
