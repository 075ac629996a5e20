"""Open Dental's rows as the sync's rows: the SQL that reads them and the conversions.

Open Dental's own tables and columns (``provider``, ``patient``, ``appointment``,
``operatory``, ``histappointment``, ``deletedobject``); every ``AptStatus`` mapped
explicitly (:data:`APT_STATUS`). A row that cannot be used is a :class:`RowProblem`
naming the table and primary key (``appointment:1042: …``); the others are converted.
The connector (:mod:`linker_tui.sync.open_dental`) runs the queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from linker_tui.ingest.pms_export import (
    AppointmentColumns,
    PatientRow,
    ProviderRow,
    RowProblem,
)
from linker_tui.store.enums import AppointmentStatus
from linker_tui.sync.control import StopFlag

#: ``appointment.AptStatus`` (Open Dental's ``ApptStatus`` enum) → status; ``None``: not
#: an appointment on the schedule (skipped, no problem).
APT_STATUS: dict[int, AppointmentStatus | None] = {
    1: AppointmentStatus.SCHEDULED,  # Scheduled
    2: AppointmentStatus.COMPLETED,  # Complete
    3: AppointmentStatus.UNSCHEDULED,  # UnschedList: on the unscheduled list
    4: AppointmentStatus.SCHEDULED,  # ASAP (before 17.4): scheduled, also on the ASAP list
    5: AppointmentStatus.BROKEN,  # Broken: missed or cancelled by the patient
    6: None,  # Planned: a treatment plan in the chart, never on the schedule
    7: None,  # PtNote: a patient note on the schedule
    8: None,  # PtNoteCompleted
}
#: ``histappointment.HistApptAction`` (``HistAppointmentAction``): 0 Created, 1 Changed,
#: 2 Missed, 3 Cancelled, 4 Deleted. Only a deletion removes the appointment row.
HIST_DELETED = 4
#: ``deletedobject.ObjectType`` (``DeletedObjectType``) of an appointment.
DELETED_APPOINTMENT = 0
#: ``patient.PatStatus`` (``PatientStatus``): 0 Patient, 1 NonPatient, 2 Inactive,
#: 3 Archived, 4 Deleted, 5 Deceased, 6 Prospective. Deleted patients are skipped.
PAT_DELETED = 4
MINUTES_PER_PATTERN_CHAR = 5
FETCH = 20_000  # rows per fetch (a stop is noticed between fetches)
PAGE = 50_000  # rows per statement of a big read
_REMEMBERED = 100_000  # converted times remembered at most (a million read: not all kept)

PROVIDERS_SQL = (
    "SELECT ProvNum, Abbr, FName, LName, IsSecondary, IsHidden, IsNotPerson FROM provider"
)
PATIENTS_SQL = (
    "SELECT PatNum, LName, FName, Preferred, Birthdate, Email, HmPhone, WirelessPhone, "
    "Guarantor, PatStatus FROM patient"
)
# The same columns from appointment and from histappointment (a copy of the row).
_APPOINTMENT_COLUMNS = (
    "{t}.AptNum, {t}.PatNum, {t}.AptStatus, CAST({t}.AptDateTime AS CHAR), "
    "CHAR_LENGTH({t}.Pattern), {t}.IsHygiene, {t}.ProvNum, {t}.ProvHyg, o.OpName, "
    "{t}.ProcDescript, UNIX_TIMESTAMP({t}.DateTStamp), p.PatStatus"
)
APPOINTMENTS_SQL = (
    f"SELECT {_APPOINTMENT_COLUMNS.format(t='a')} FROM appointment a "
    "LEFT JOIN operatory o ON o.OperatoryNum = a.Op "
    "LEFT JOIN patient p ON p.PatNum = a.PatNum"
)
DELETIONS_SQL = (
    f"SELECT {_APPOINTMENT_COLUMNS.format(t='h')}, h.HistApptNum FROM histappointment h "
    "LEFT JOIN operatory o ON o.OperatoryNum = h.Op "
    "LEFT JOIN patient p ON p.PatNum = h.PatNum "
    f"WHERE h.HistApptAction = {HIST_DELETED} AND h.HistApptNum > %s"
)
DELETED_OBJECTS_SQL = (
    "SELECT ObjectNum FROM deletedobject "
    f"WHERE ObjectType = {DELETED_APPOINTMENT} AND DeletedObjectNum > %s"
)
#: The change marks read for the cheap cursor: index look-ups only (``appointment`` has an
#: index on ``DateTStamp``, ``provider`` and ``operatory`` are small, the others by
#: primary key). ``patient`` has no index on ``DateTStamp``: its maximum is a scan of the
#: whole (wide) table, so patients are looked at every ``patient_check_seconds`` and with
#: every other change instead (see the connector).
MARKS_SQL = (
    "SELECT UNIX_TIMESTAMP(NOW()), "
    "UNIX_TIMESTAMP((SELECT MAX(DateTStamp) FROM appointment)), "
    "UNIX_TIMESTAMP((SELECT MAX(DateTStamp) FROM provider)), "
    "UNIX_TIMESTAMP((SELECT MAX(DateTStamp) FROM operatory)), "
    "(SELECT MAX(HistApptNum) FROM histappointment), "
    "(SELECT MAX(DeletedObjectNum) FROM deletedobject)"
)


def provider_row(values: Sequence[Any]) -> ProviderRow:
    """A ``provider`` row: "Dr." unless secondary (hygienists) or not a person."""
    prov_num, abbr, first, last, secondary, hidden, not_person = values
    title = "" if secondary or not_person else "Dr."
    return ProviderRow(str(prov_num), _text(abbr), _text(first), _text(last), title, not hidden)


def patient_row(values: Sequence[Any]) -> PatientRow | RowProblem | None:
    """A ``patient`` row; ``None`` for a deleted patient (``PatStatus`` 4)."""
    pat_num, last, first, preferred, birthdate, email, home, mobile, guarantor, status = values
    if status == PAT_DELETED:
        return None
    last = _text(last)
    if not last:
        return RowProblem("patient", pat_num, "LName is empty")
    born = birthdate if isinstance(birthdate, date) and birthdate.year > 1 else None
    return PatientRow(
        str(pat_num),
        last,
        _text(first),
        _text(preferred),
        born,
        _text(email),
        _text(home),
        _text(mobile),
        str(guarantor) if guarantor else "",
        False,
    )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass
class AppointmentReader:
    """Converts ``appointment`` (and ``histappointment``) rows into columns; keeps the
    problems, the skipped rows and the appointments of deleted patients."""

    tz: ZoneInfo
    columns: AppointmentColumns = field(default_factory=AppointmentColumns)
    keys: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    ignored: int = 0
    of_deleted_patients: list[int] = field(default_factory=list)
    _starts: dict[str, datetime | None] = field(default_factory=dict)
    _stamps: dict[int, datetime] = field(default_factory=dict)

    def add(
        self, rows: Iterable[Sequence[Any]], table: str = "appointment", deleted: bool = False
    ) -> None:
        """Convert rows of :data:`APPOINTMENTS_SQL` (``deleted``: of :data:`DELETIONS_SQL`,
        read as cancelled)."""
        out = self.columns
        pms_id, patient, provider, start_of, minutes = (
            out.pms_id,
            out.patient_pms_id,
            out.provider_pms_id,
            out.start,
            out.duration_min,
        )
        operatory, reason, status_of, updated, keys = (
            out.operatory,
            out.reason,
            out.status,
            out.updated_at,
            self.keys,
        )
        if len(self._stamps) > _REMEMBERED:  # (times to the second hardly repeat)
            self._stamps.clear()
        if len(self._starts) > _REMEMBERED:
            self._starts.clear()
        stamps = self._stamps
        for row in rows:
            checked = self._status_and_start(row, table, deleted)
            if checked is None:
                continue
            apt, pat, _status, _when, length, hyg, prov, prov_hyg, op, descript, stamp = row[:11]
            stamped = stamps.get(stamp)
            if stamped is None and stamp is not None:
                stamped = stamps[stamp] = datetime.fromtimestamp(int(stamp), UTC)
            who = prov_hyg if hyg and prov_hyg else prov
            keys.append(apt)
            pms_id.append(str(apt))
            patient.append(str(pat))
            provider.append(str(who) if who else "")
            start_of.append(checked[1])
            minutes.append(length * MINUTES_PER_PATTERN_CHAR)
            operatory.append(op.strip() if op else "")
            reason.append(descript.strip() if descript else "")
            status_of.append(checked[0])
            updated.append(stamped)

    def take(self) -> tuple[AppointmentColumns, list[int]]:
        """The appointments converted so far and their keys, let go here (a page at a
        time); the problems, counts and caches stay."""
        columns, keys = self.columns, self.keys
        self.columns, self.keys = AppointmentColumns(), []
        return columns, keys

    def _status_and_start(
        self, row: Sequence[Any], table: str, deleted: bool
    ) -> tuple[AppointmentStatus, datetime] | None:
        """The status and start of an appointment row, or None when it is skipped
        (counted as ignored, or a problem)."""
        apt, _pat, apt_status, when, length = row[:5]
        if apt_status not in APT_STATUS:
            self.problems.append(RowProblem(table, apt, f"unknown AptStatus {apt_status}"))
            return None
        status = APT_STATUS[apt_status]
        if status is None:  # no appointment (a planned one, a note), deleted or not
            self.ignored += 1
            return None
        if row[11] == PAT_DELETED:
            self.ignored += 1
            self.of_deleted_patients.append(apt)
            return None
        start = self._starts.get(when, _MISSING)
        if start is _MISSING:
            start = self._starts[when] = self._start(when)
        if start is None:
            if deleted or status is AppointmentStatus.UNSCHEDULED:  # without a date
                self.ignored += 1
            else:
                self.problems.append(RowProblem(table, apt, f"AptDateTime {when!r} is no date"))
            return None
        if not length:
            self.problems.append(RowProblem(table, apt, "Pattern is empty (no length)"))
            return None
        return (AppointmentStatus.CANCELLED if deleted else status), start

    def _start(self, text: str | None) -> datetime | None:
        """``AptDateTime`` is the practice's wall time; ``0001-01-01`` means none."""
        if not text or text.startswith(("0000", "0001")):
            return None
        try:
            return datetime.fromisoformat(text).replace(tzinfo=self.tz)
        except ValueError:
            return None


def change_marks(cur: Any) -> tuple[int, list[Any]]:
    """The database clock (epoch seconds) and the change marks of :data:`MARKS_SQL`."""
    cur.execute(MARKS_SQL)
    now, *marks = cur.fetchall()[0]  # read to the end (an unbuffered cursor)
    return int(now), marks


def pages(
    cur: Any, sql: str, where: list[str], params: list[Any], key: str, stop: StopFlag
) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows of ``sql`` in pages of :data:`PAGE` in the order of ``key`` (the first
    column), each page its own statement: in the snapshot, and every statement short
    (the statement timeout holds for each), however big the first read."""
    last = -1
    while True:
        stop.check()
        conditions = " AND ".join([*where, f"{key} > %s"])
        cur.execute(f"{sql} WHERE {conditions} ORDER BY {key} LIMIT {PAGE}", [*params, last])
        rows = cur.fetchall()
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        last = rows[-1][0]


def fetched(cur: Any, stop: StopFlag) -> Iterator[Sequence[Sequence[Any]]]:
    """The result a fetch at a time, checking ``stop`` between fetches."""
    while True:
        stop.check()
        rows = cur.fetchmany(FETCH)
        if not rows:
            return
        yield rows


def latest_copies(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """One deleted copy per AptNum: the newest (``HistApptNum`` is the last column)."""
    latest: dict[int, Sequence[Any]] = {}
    for row in sorted(rows, key=lambda r: r[-1]):
        latest[row[0]] = row
    return list(latest.values())


_MISSING: Any = object()
