"""Decoding records into typed rows: :class:`RowParser`, with an
:class:`~linker_tui.ingest.pms_export.format.ExportFormat` (date formats, status table).

A record is a file's values in its header's order (read by
:meth:`linker_tui.ingest.csv_file.CsvLines.records`); appointments are also decoded column by
column (:meth:`RowParser.appointment_bulk`), each distinct text once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from itertools import compress, repeat
from operator import is_, not_
from typing import Any, NamedTuple, TypeVar

from linker_tui.common.clock import storable
from linker_tui.ingest.pms_export.format import (
    APPOINTMENTS_FILE,
    PATIENTS_FILE,
    PROVIDERS_FILE,
    ExportFormat,
    status_word,
)
from linker_tui.ingest.pms_export.rows import (
    AppointmentColumns,
    AppointmentRow,
    BadRow,
    IgnoredRow,
    PatientRow,
    ProviderRow,
)
from linker_tui.settings.config import IGNORE
from linker_tui.store.enums import AppointmentStatus

T = TypeVar("T")

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
    values (a record read by :meth:`linker_tui.ingest.csv_file.CsvLines.records`, and
    one more value, empty, for a column the file lacks); :meth:`provider`, :meth:`patient` and
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
        return _AppointmentColumns(
            _state_reader(self.status),
            _minutes_of,
            _start_reader(self.start),
            _updated_reader(self.fmt, self.moment),
        )

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

        def bulk(texts: Sequence[Sequence[str]]) -> tuple[AppointmentColumns, list[bool]]:
            count = len(texts[0]) if texts else 0
            if not count:
                return AppointmentColumns(), []
            table = [*texts, ("",) * count]  # and a column the file does not have
            out = AppointmentColumns(
                list(map(str.strip, table[i_id])),
                list(map(str.strip, table[i_pat])),
                list(map(str.strip, table[i_prov])),
                _converted(known[2], table[i_start], convert.start),
                _converted(known[1], table[i_dur], convert.minutes),
                list(map(str.strip, table[i_op])),
                list(map(str.strip, table[i_reason])),
                _converted(known[0], table[i_status], convert.state),
                _converted(known[3], table[i_upd], convert.updated_at),
            )
            return out, _kept(out, count)

        return bulk


_KNOWN_AT_MOST = 100_000  # texts remembered per column by the bulk reader

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


def _state_reader(status: Callable[[str], AppointmentStatus]) -> Callable[[str], AppointmentStatus]:
    def state_of(raw: str) -> AppointmentStatus:
        word = raw.strip()
        if not word:
            raise BadRow("status is missing")
        return status(word)

    return state_of


def _minutes_of(raw: str) -> int:
    duration = raw.strip() or "30"
    minutes = int(duration) if duration.isdigit() else 0
    if minutes <= 0:
        raise BadRow(f"duration_min {duration!r} is not a positive whole number")
    return minutes


def _start_reader(start: Callable[[str], datetime]) -> Callable[[str], datetime]:
    def start_of(raw: str) -> datetime:
        when = raw.strip()
        if not when:
            raise BadRow("start is missing")
        return start(when)

    return start_of


def _updated_reader(
    fmt: ExportFormat, moment: Callable[[str, str], datetime]
) -> Callable[[str], datetime | None]:
    """``updated_at``: ISO 8601 read directly when no other format is set."""
    iso_only, tz, fromiso = not fmt.datetime_format, fmt.tz, datetime.fromisoformat

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

    return updated_of


def _converted(
    table: dict[str, Any], texts: Sequence[str], read: Callable[[str], Any]
) -> list[Any]:
    """``read`` of each text, each distinct new one read once (``table``: text → value or
    ``_REFUSED``, kept across calls: the texts repeat; at most :data:`_KNOWN_AT_MOST`
    of them, so that a million texts read once each are not all kept)."""
    values = list(map(table.get, texts, repeat(_NEW)))
    if not any(map(is_, values, repeat(_NEW))):
        return values
    if len(table) > _KNOWN_AT_MOST:  # texts that hardly repeat (a time to the second)
        table.clear()
    for text in set(compress(texts, map(is_, values, repeat(_NEW)))):
        try:
            table[text] = read(text)
        except (BadRow, IgnoredRow, ValueError):
            table[text] = _REFUSED
    return list(map(table.__getitem__, texts))


def _kept(out: AppointmentColumns, count: int) -> list[bool]:
    """Per row, whether the bulk reader read it (ids present and not too long, every
    converted value read)."""
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
    return keep


class _AppointmentColumns(NamedTuple):
    """Text → value of the appointment columns; each raises BadRow (or IgnoredRow)."""

    state: Callable[[str], AppointmentStatus]
    minutes: Callable[[str], int]
    start: Callable[[str], datetime]
    updated_at: Callable[[str], datetime | None]
