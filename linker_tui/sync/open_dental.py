"""The Open Dental connector: reads the practice's Open Dental database (MySQL/MariaDB)
directly, read-only, incrementally; see ``docs/sync.md`` ("Open Dental").

* **Read-only and bounded.** Each read is one transaction opened ``READ ONLY, WITH
  CONSISTENT SNAPSHOT``, with a statement timeout (``max_statement_time`` on MariaDB,
  ``MAX_EXECUTION_TIME`` on MySQL) and the session in UTC (``DateTStamp`` is a
  ``TIMESTAMP``: no daylight-saving jumps); big reads come in pages, a statement each.
  It never writes.
* **Incremental.** Every Open Dental write sets the row's ``DateTStamp`` (second
  resolution). The connector state keeps the database clock's time of the last read
  (``since``); the next read takes the rows with ``DateTStamp >= since - overlap``, so a
  row written in the same second as the read, or committed a little later, is not lost
  (rows read twice are written once: the engine skips rows that did not change).
* **Cheap when nothing changed.** :meth:`OpenDentalConnector.cursor` is one query of
  indexed maxima (``DateTStamp`` of appointments, providers, operatories; the last
  ``histappointment`` and ``deletedobject`` numbers); while the newest change is younger
  than the overlap it always differs, so such a change is read however close it was to
  the last read. ``patient.DateTStamp`` has no index in Open Dental, so a change to
  patients alone is read with the next other change or within ``patient_check_seconds``
  (the cursor changes that often).
* **Deletions.** Open Dental deletes appointment rows and keeps a copy in
  ``histappointment`` (``HistApptAction`` 4 = Deleted): each becomes a cancelled
  appointment. An id in ``deletedobject`` without such a copy, and the appointments of a
  patient marked deleted, are given as removed ids (cancelled by the engine).
* **Errors.** A database that cannot be reached, a missing grant, a lost connection are
  an :class:`OpenDentalError` with a sentence for staff and IT, not a traceback; bad rows
  are problems naming table and primary key, and the rest is imported.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import gt
from typing import Any
from zoneinfo import ZoneInfo

import pymysql
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url

from linker_tui.ingest.pms_export import (
    AppointmentColumns,
    AppointmentRow,
    PatientRow,
    ProviderRow,
    RowProblem,
)
from linker_tui.sync.connector import AppointmentBlock, Changed, ChangeSet, TableChanges
from linker_tui.sync.control import StopFlag
from linker_tui.sync.memory import return_freed_memory
from linker_tui.sync.open_dental_rows import (
    APPOINTMENTS_SQL,
    DELETED_OBJECTS_SQL,
    DELETIONS_SQL,
    PATIENTS_SQL,
    PROVIDERS_SQL,
    AppointmentReader,
    change_marks,
    fetched,
    latest_copies,
    pages,
    patient_row,
    provider_row,
)
from linker_tui.sync.open_dental_session import (
    OpenDentalError,
    OpenRead,
    error_of,
    session_sql,
)
from linker_tui.sync.state import StateValue

STATE_NAME = "open_dental"
OVERLAP_SECONDS = 60  # re-read this much before the last read (and read while this fresh)
PATIENT_CHECK_SECONDS = 300  # patients alone changed: read at the latest after this
_HIST_OVERLAP = 200  # history numbers re-read (a row committed after a later one)
_IN_CHUNK = 1_000
_MAX_RETRIED = 20_000  # refused appointments read again next time (at most)
_FAR = (datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))


@dataclass
class _State:
    """What the last successful read left: the database clock then, the last history
    and deleted-object numbers, the appointments the engine refused (read again)."""

    since: int | None = None
    hist: int = 0
    deleted: int = 0
    retry: list[int] = field(default_factory=list)
    scope: str = ""  # the reading settings then (another scope: read everything)

    @classmethod
    def load(cls, data: bytes | None) -> _State:
        try:
            raw = json.loads(data or b"{}")
            return cls(
                raw.get("since"),
                int(raw.get("hist", 0)),
                int(raw.get("deleted", 0)),
                [int(n) for n in raw.get("retry", [])],
                str(raw.get("scope", "")),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()

    def dump(self) -> bytes:
        return json.dumps(
            {
                "since": self.since,
                "hist": self.hist,
                "deleted": self.deleted,
                "retry": self.retry,
                "scope": self.scope,
            }
        ).encode()


class OpenDentalConnector:
    """Reads providers, patients and appointments from an Open Dental database."""

    def __init__(
        self,
        url: str,
        tz: ZoneInfo,
        *,
        password: SecretStr | None = None,
        clinic: int | None = None,
        timeout: float = 60.0,
        window_days_back: int | None = None,
        window_days_ahead: int | None = None,
        overlap_seconds: int = OVERLAP_SECONDS,
        patient_check_seconds: int = PATIENT_CHECK_SECONDS,
    ) -> None:
        parsed = make_url(url)
        if password is not None:
            parsed = parsed.set(password=password.get_secret_value())
        self.url: URL = parsed
        self.tz = tz
        self.clinic = clinic
        self.timeout = timeout
        self.window = (window_days_back, window_days_ahead)
        self.overlap = max(int(overlap_seconds), 1)
        self.patient_check = max(int(patient_check_seconds), 1)
        self.where = f"{parsed.host or 'localhost'}:{parsed.port or 3306}/{parsed.database or ''}"
        self._engine: sa.Engine | None = None

    @property
    def source(self) -> str:
        """``open_dental:`` host, port, database and clinic."""
        clinic = f"#clinic{self.clinic}" if self.clinic is not None else ""
        return f"open_dental:{self.where}{clinic}"

    def scope(self) -> str:
        """The settings that decide which rows are read and how."""
        return json.dumps([str(self.tz), self.clinic, *self.window])

    # ----------------------------------------------------------------- cursor
    def cursor(self, stop: StopFlag) -> str:
        """A digest of the tables' change marks (see the module docstring)."""
        with self._session(stop) as cur:
            return self._token(*change_marks(cur))

    def _token(self, now: int, marks: list[Any]) -> str:
        digest = hashlib.sha256(self.scope().encode())
        digest.update(repr(marks).encode())
        digest.update(str(now // self.patient_check).encode())  # patients: a scan, seldom
        newest = max((int(m) for m in marks[:3] if m is not None), default=0)
        if int(now) - newest < self.overlap:  # may still be written in that second
            digest.update(str(time.monotonic_ns()).encode())
        return digest.hexdigest()[:40]

    # ---------------------------------------------------------------- changes
    def changes(self, state: MutableMapping[str, bytes], stop: StopFlag) -> ChangeSet:
        """The rows changed since the read that left ``state``, in one snapshot."""
        old = _State.load(state.get(STATE_NAME))
        if old.scope != self.scope():
            old = _State()
        if old.since is None:
            return self._everything(stop)
        with self._session(stop) as cur:
            now, marks = change_marks(cur)
            token = self._token(now, marks)
            hist_max, deleted_max = int(marks[3] or 0), int(marks[4] or 0)
            since = old.since - self.overlap
            problems: list[RowProblem] = []
            providers = self._providers(cur, since, stop)
            patients = self._patients(cur, since, problems, stop)
            reader = AppointmentReader(self.tz)
            self._appointments(cur, since, old.retry, reader, stop)
            # deletions since the last read
            cur.execute(DELETIONS_SQL + self._clinic_sql("h"), (old.hist - _HIST_OVERLAP,))
            for rows in fetched(cur, stop):
                reader.add(latest_copies(rows), "histappointment", deleted=True)
            removed = self._deleted_objects(cur, old.deleted, stop)
            # those of patients just marked deleted
            removed.update(self._appointments_of(cur, patients.deleted, stop))
            removed.update(map(str, reader.of_deleted_patients))
            removed -= set(reader.columns.pms_id)
            appointments = self._table(reader, removed, cur)
        problems.extend(reader.problems)
        new = _State(int(now), max(hist_max, old.hist), max(deleted_max, old.deleted))
        new.scope = self.scope()
        changes = ChangeSet(
            source=self.source,
            cursor=token,
            providers=providers,
            patients=patients.table,
            appointments=appointments,
            problems=problems,
            window=_FAR if removed else None,
        )
        changes.state_builder = lambda c: _new_state(c, new)
        return changes

    def _everything(self, stop: StopFlag) -> ChangeSet:
        """Every row (a first read, or one after the reading settings changed), in one
        snapshot kept open while the engine writes them: the patients and appointments a
        page at a time as the engine asks for them (:attr:`TableChanges.row_batches`,
        :attr:`TableChanges.batches`), never all at once. The last page closes the
        snapshot; :meth:`ChangeSet.close` does if the run ends before."""
        return_freed_memory()  # a big read: freed memory goes back at once
        reading = OpenRead(self._session(stop))
        try:
            now, marks = change_marks(reading.cur)
            problems: list[RowProblem] = []
            providers = self._providers(reading.cur, None, stop)
        except BaseException as exc:
            reading.close(exc)
            raise
        patients = _Patients(TableChanges(file="patient"))
        appointments: TableChanges[AppointmentRow] = TableChanges(file="appointment")
        new = _State(int(now), int(marks[3] or 0), int(marks[4] or 0), scope=self.scope())
        changes = ChangeSet(
            source=self.source,
            cursor=self._token(now, marks),
            providers=providers,
            patients=patients.table,
            appointments=appointments,
            problems=problems,
            closer=reading.close,
        )
        patients.table.row_batches = self._patient_pages(reading, patients, problems, stop)
        appointments.batches = self._appointment_pages(reading, changes, stop)
        changes.state_builder = lambda c: _new_state(c, new)
        return changes

    def _patient_pages(
        self, reading: OpenRead, out: _Patients, problems: list[RowProblem], stop: StopFlag
    ) -> Iterator[list[Changed[PatientRow]]]:
        """The patients a page at a time (as :meth:`_patients` reads them)."""
        try:
            for rows in pages(reading.cur, PATIENTS_SQL, [], [], "PatNum", stop):
                self._patient_page(rows, out, problems)
                batch, out.table.changed = out.table.changed, []
                if batch:
                    yield batch
        except BaseException as exc:
            reading.close(exc)
            raise

    def _appointment_pages(
        self, reading: OpenRead, changes: ChangeSet, stop: StopFlag
    ) -> Iterator[AppointmentBlock]:
        """The appointments a page at a time; then what depends on them all (the
        appointments of deleted patients, counts), and the snapshot closed."""
        table, reader, read = changes.appointments, AppointmentReader(self.tz), 0
        try:
            where, params = self._window_sql()
            for rows in pages(reading.cur, APPOINTMENTS_SQL, where, params, "a.AptNum", stop):
                reader.add(rows)
                columns, keys = reader.take()
                read += len(keys)
                if keys:
                    yield AppointmentBlock(columns, keys, keys)
            removed = set(map(str, reader.of_deleted_patients))  # (none of them read)
            self._counts(table, reader, read, removed, reading.cur)
        except BaseException as exc:
            reading.close(exc)
            raise
        reading.close()
        changes.problems.extend(reader.problems)
        changes.window = _FAR if removed else None

    def _providers(self, cur: Any, since: int | None, stop: StopFlag) -> TableChanges[ProviderRow]:
        table: TableChanges[ProviderRow] = TableChanges(file="provider")
        cur.execute(PROVIDERS_SQL + _since_sql("provider", since))
        for rows in fetched(cur, stop):
            table.seen += len(rows)
            table.changed.extend(Changed(provider_row(r), r[0], r[0]) for r in rows)
        return table

    def _patients(
        self, cur: Any, since: int | None, problems: list[RowProblem], stop: StopFlag
    ) -> _Patients:
        out = _Patients(TableChanges(file="patient"))
        where = [] if since is None else [f"DateTStamp >= FROM_UNIXTIME({int(since)})"]
        for rows in pages(cur, PATIENTS_SQL, where, [], "PatNum", stop):
            self._patient_page(rows, out, problems)
        return out

    def _patient_page(
        self, rows: Sequence[Sequence[Any]], out: _Patients, problems: list[RowProblem]
    ) -> None:
        out.table.seen += len(rows)
        for values in rows:
            row = patient_row(values)
            if row is None:
                out.deleted.append(values[0])
                out.table.ignored += 1
            elif isinstance(row, RowProblem):
                problems.append(row)
            else:
                out.table.changed.append(Changed(row, values[0], values[0]))

    def _appointments(
        self,
        cur: Any,
        since: int | None,
        retry: Sequence[int],
        reader: AppointmentReader,
        stop: StopFlag,
    ) -> None:
        where, params = self._window_sql()
        if since is not None:
            where.append("a.DateTStamp >= FROM_UNIXTIME(%s)")
            params.append(since)
        for rows in pages(cur, APPOINTMENTS_SQL, where, params, "a.AptNum", stop):
            reader.add(rows)
        done = set(reader.keys)
        wanted = [n for n in retry if n not in done]
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(f"{APPOINTMENTS_SQL} WHERE a.AptNum IN ({marks})", chunk)
            for rows in fetched(cur, stop):
                reader.add(rows)

    def _window_sql(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if self.clinic is not None:
            where.append("a.ClinicNum = %s")
            params.append(self.clinic)
        back, ahead = self.window
        today = datetime.now(self.tz).date()
        if back is not None:
            where.append("a.AptDateTime >= %s")
            params.append(datetime.combine(today - timedelta(days=back), datetime.min.time()))
        if ahead is not None:
            where.append("a.AptDateTime < %s")
            params.append(datetime.combine(today + timedelta(days=ahead + 1), datetime.min.time()))
        return where, params

    def _clinic_sql(self, alias: str) -> str:
        return f" AND {alias}.ClinicNum = {int(self.clinic)}" if self.clinic is not None else ""

    def _deleted_objects(self, cur: Any, after: int, stop: StopFlag) -> set[str]:
        cur.execute(DELETED_OBJECTS_SQL, (after - _HIST_OVERLAP,))
        return {str(r[0]) for rows in fetched(cur, stop) for r in rows}

    def _appointments_of(self, cur: Any, patients: list[int], stop: StopFlag) -> set[str]:
        """The appointments of patients marked deleted (cancelled if stored)."""
        found: set[str] = set()
        for start in range(0, len(patients), _IN_CHUNK):
            chunk = patients[start : start + _IN_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(f"SELECT AptNum FROM appointment WHERE PatNum IN ({marks})", chunk)
            found.update(str(r[0]) for rows in fetched(cur, stop) for r in rows)
        return found

    def _table(
        self, reader: AppointmentReader, removed: set[str], cur: Any
    ) -> TableChanges[AppointmentRow]:
        table: TableChanges[AppointmentRow] = TableChanges(file="appointment")
        columns, keys = reader.columns, reader.keys
        if any(map(gt, keys, keys[1:])):  # the engine merges by key: in key order
            order = sorted(range(len(keys)), key=keys.__getitem__)
            columns = AppointmentColumns(*([v[i] for i in order] for v in columns.lists()))
            keys = [keys[i] for i in order]
        table.block = AppointmentBlock(columns, keys, keys)
        self._counts(table, reader, len(keys), removed, cur)
        return table

    def _counts(
        self,
        table: TableChanges[AppointmentRow],
        reader: AppointmentReader,
        read: int,
        removed: set[str],
        cur: Any,
    ) -> None:
        """The counts of the appointments read (``read`` of them kept), and the removed."""
        table.seen = read + reader.ignored + len(reader.problems)
        table.ignored = reader.ignored
        table.removed_ids = removed
        if removed:  # the share the engine compares with (a guard against mass deletion)
            cur.execute("SELECT COUNT(*) FROM appointment a" + self._clinic_where())
            table.previous = int(cur.fetchall()[0][0]) + len(removed)

    def _clinic_where(self) -> str:
        return f" WHERE a.ClinicNum = {int(self.clinic)}" if self.clinic is not None else ""

    # ---------------------------------------------------------------- session
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (PyMySQL). It keeps one connection between runs of this
        process (checked with a ping before use), so a run with no change costs its
        queries, not a new connection (PyMySQL builds a TLS context for each)."""
        if self._engine is None:
            timeout = max(1, round(self.timeout))
            # The server stops a slow statement first and says so (max_statement_time);
            # the client's read limit is only the backstop for a link that hangs, later
            # than the server's, or both race and the run reads "lost the connection".
            backstop = timeout + max(5, timeout)
            self._engine = sa.create_engine(
                self.url,
                pool_size=1,
                max_overflow=1,
                pool_pre_ping=True,
                pool_recycle=3600,
                connect_args={
                    "connect_timeout": timeout,
                    "read_timeout": backstop,
                    "write_timeout": backstop,
                    "charset": "utf8mb4",
                },
            )
        return self._engine

    def _error_of(self, exc: BaseException | None) -> OpenDentalError:
        return error_of(exc, self.url.username or "", self.where, self.timeout)

    @contextmanager
    def _session(self, stop: StopFlag) -> Iterator[Any]:
        """A PyMySQL cursor in a read-only snapshot transaction, rolled back at the end."""
        stop.check()
        try:
            raw = self.engine().raw_connection()
        except (sa.exc.DBAPIError, pymysql.MySQLError) as exc:
            raise self._error_of(getattr(exc, "orig", exc)) from None
        ok = False
        try:
            conn = raw.driver_connection
            assert conn is not None
            cur = conn.cursor(pymysql.cursors.SSCursor)
            try:
                for sql in session_sql(conn, self.timeout):
                    cur.execute(sql)
                yield cur
                ok = True
            except pymysql.MySQLError as exc:
                raise self._error_of(exc) from None
        finally:
            if ok:
                with suppress(pymysql.MySQLError, sa.exc.DBAPIError, OSError):
                    raw.rollback()
                raw.close()
            else:  # perhaps mid-result or already gone: drop it without a word to it
                raw.invalidate()


@dataclass
class _Patients:
    table: TableChanges[PatientRow]
    deleted: list[int] = field(default_factory=list)


def _since_sql(table: str, since: int | None) -> str:
    return "" if since is None else f" WHERE {table}.DateTStamp >= FROM_UNIXTIME({int(since)})"


def _new_state(changes: ChangeSet, new: _State) -> dict[str, StateValue]:
    """The new cursor, and the appointments the engine refused (read again next time)."""
    refused = changes.appointments.refused
    new.retry = sorted(refused)[:_MAX_RETRIED]
    return {STATE_NAME: new.dump()}
