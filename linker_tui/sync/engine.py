"""The sync engine: writes what a connector found into the database, and imports the
request inbox. Recorded as a ``sync_run`` with its problems.

One run:

1. records the run as ``running`` (its own small transaction);
2. PMS: asks the connector for its cursor, and stops there when the export is unchanged
   (unless forced); otherwise gets the changed rows and writes them in **one
   transaction**: set-based ``INSERT … ON CONFLICT (pms_id) DO UPDATE … WHERE`` a column
   differs (bulk ``executemany``, never an ORM object per row), so a crash or a stop
   leaves the previous state intact. In the same transaction: appointments gone from the
   export's date window are cancelled, requests whose linked appointment was cancelled
   or moved and waiting requests whose patient got an appointment are flagged for staff
   (:func:`linker_tui.workflow.attention.flag_for_attention`, audited), the problems and counts of
   the run and the connector's new state are stored;
3. inbox: new requests in a second transaction, then files moved;
4. finishes the run record (``ok``, ``failed`` with the error, or ``cancelled``).

Between phases and every few thousand rows the run checks its :class:`StopFlag`; a stop
rolls back the open transaction. Only one run at a time: a lock in the process, and on
PostgreSQL an advisory lock across workstations (another run is ``skipped``).
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from itertools import compress, repeat
from operator import is_
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, col, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock
from linker_tui.ingest.pms_export import (
    AppointmentColumns,
    AppointmentRow,
    PatientRow,
    ProviderRow,
    RowProblem,
)
from linker_tui.matching import patient_keys
from linker_tui.store.db import write_session
from linker_tui.store.enums import BOOKABLE_STATUSES, AppointmentStatus, RequestState, SyncRunStatus
from linker_tui.store.models import OnlineRequest, SyncRun
from linker_tui.sync.connector import AppointmentBlock, ChangeSet, Connector, TableChanges
from linker_tui.sync.control import BUSY, StopFlag, SyncCancelled, take_turn
from linker_tui.sync.dead_runs import close_dead_runs, this_holder
from linker_tui.sync.inbox import RequestInbox
from linker_tui.sync.summary import SyncSummary
from linker_tui.workflow.attention import AttentionFlag, flag_for_attention
from linker_tui.workflow.checks import find_patient
from linker_tui.workflow.practice import format_local

log = logging.getLogger(__name__)

_FINISH_ATTEMPTS, _FINISH_PAUSE = 5, 1.0  # recording a run's end in a busy database
_CHUNK = 5_000  # rows per executemany (a stop is noticed between chunks)
_IN_CHUNK = 500  # values per IN (...) list
_LOAD_ALL_OVER = 20_000  # look up more ids than this: read the whole id column instead
_REBUILD_INDEXES_OVER = 50_000  # new rows from which a (nearly) empty table is bulk-loaded
_META = ""  # sync_state row holding the cursor
_PG_LOCK_KEY = 0x6C696E6B5F73796E  # "link_syn"
_CANCELLED = AppointmentStatus.CANCELLED.value
# Cancel appointments missing from the export only when they are few: a truncated export
# must not cancel half the schedule. More than this share (and more than _GUARD_MIN) is
# reported as a problem instead.
_GUARD_SHARE, _GUARD_MIN = 0.5, 100

PROVIDER_COLUMNS = ("pms_id", "abbr", "first_name", "last_name", "title", "active")
PATIENT_COLUMNS = (
    "pms_id",
    "first_name",
    "last_name",
    "preferred_name",
    "first_name_key",
    "last_name_key",
    "preferred_name_key",
    "last_name_sound",
    "email_key",
    "phone_home_key",
    "phone_mobile_key",
    "birthdate",
    "email",
    "phone_home",
    "phone_mobile",
    "guarantor_pms_id",
    "no_email",
)
APPOINTMENT_COLUMNS = (
    "pms_id",
    "patient_id",
    "provider_id",
    "start",
    "duration_min",
    "operatory",
    "reason",
    "status",
    "pms_updated_at",
)


# --------------------------------------------------------------------------- results


class SyncFailed(RuntimeError):
    """A run that ended ``failed`` (raised by the scheduled job, so ``on_error`` hears)."""

    def __init__(self, summary: SyncSummary) -> None:
        super().__init__(summary.error or summary.text())
        self.summary = summary


class _StateMoved(Exception):
    """Another run stored a newer state for the source while this one was reading."""


@dataclass(frozen=True)
class SyncOptions:
    """How the engine treats the data (from the settings)."""

    tz: ZoneInfo
    phone_region: str = "CA"
    # The window in which appointments missing from the export are cancelled; None: the
    # export's own min..max start.
    window_days_back: int | None = None
    window_days_ahead: int | None = None
    max_problems_stored: int = 1_000  # per run (the count is always complete)
    keep_runs_days: int = 30
    keep_problem_runs: int = 100  # problems of older runs are deleted


@dataclass
class _Run:
    """Counters of the run being made."""

    id: int
    trigger: str
    started_at: datetime
    source: str = ""
    rows_seen: int = 0
    inserted: int = 0
    updated: int = 0
    cancelled: int = 0
    flagged: int = 0
    requests_imported: int = 0
    problems: list[tuple[str, RowProblem]] = field(default_factory=list)
    unstored: list[tuple[str, RowProblem]] = field(default_factory=list)
    stored: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    detail: dict[str, int] = field(default_factory=dict)

    def add_problems(self, source: str, problems: Sequence[RowProblem]) -> None:
        items = [(source, p) for p in problems]
        self.problems.extend(items)
        self.unstored.extend(items)

    def take_unstored(self, limit: int, source: str | None = None) -> list[tuple[str, RowProblem]]:
        """Problems not stored yet (of ``source``), at most up to ``limit`` per run."""
        chosen = [p for p in self.unstored if source is None or p[0] == source]
        self.unstored = [p for p in self.unstored if source is not None and p[0] != source]
        chosen = chosen[: max(0, limit - self.stored)]
        self.stored += len(chosen)
        return chosen

    def reset_pms(self) -> None:
        """The PMS transaction was rolled back: forget what it counted."""
        self.rows_seen = self.inserted = self.updated = self.cancelled = self.flagged = 0
        self.problems = [p for p in self.problems if p[0] != "pms"]
        self.unstored = [p for p in self.unstored if p[0] != "pms"]
        self.detail = {k: v for k, v in self.detail.items() if k.startswith("requests_")}


# --------------------------------------------------------------------------- engine


class SyncEngine:
    """Runs syncs of one database from one connector and one inbox (both optional)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        actor: Actor,
        options: SyncOptions,
        *,
        connector: Connector | None = None,
        inbox: RequestInbox | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.actor = actor
        self.options = options
        self.connector = connector
        self.inbox = inbox
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """Whether a run is going on in this process."""
        return self._lock.locked()

    def run(
        self,
        *,
        trigger: str = "manual",
        force: bool = False,
        stop: StopFlag | None = None,
        wait: bool = True,
    ) -> SyncSummary:
        """Sync once and return what happened (errors are in the summary, not raised).

        ``force`` reads the export even when its cursor says it is unchanged. When a run is
        already going on in this process, wait for it (``wait``) and then run, or return a
        ``skipped`` summary at once. A set ``stop`` ends the run at its next check
        (``cancelled``; nothing of the open transaction is kept).
        """
        stop = stop or StopFlag()
        refused = take_turn(self._lock, stop, wait)
        if refused:
            status = SyncRunStatus.SKIPPED if refused == BUSY else SyncRunStatus.CANCELLED
            return self._not_run(trigger, status, refused)
        try:
            with _exclusive(self.engine) as alone:
                if not alone:
                    return self._skipped(trigger, "another workstation is syncing")
                close_dead_runs(
                    self.engine,
                    self.clock.now(),
                    holding_lock=self.engine.dialect.name == "postgresql",
                )
                return self._run(trigger, force, stop)
        finally:
            self._lock.release()

    def _not_run(self, trigger: str, status: SyncRunStatus, note: str) -> SyncSummary:
        now = self.clock.now()
        return SyncSummary(None, status, trigger, now, now, note=note)

    def _skipped(self, trigger: str, note: str) -> SyncSummary:
        run = self._start(trigger)
        run.notes.append(note)
        return self._finish(run, SyncRunStatus.SKIPPED)

    # ------------------------------------------------------------------- phases
    def _run(self, trigger: str, force: bool, stop: StopFlag) -> SyncSummary:
        run = self._start(trigger)
        status = SyncRunStatus.OK
        try:
            if self.connector is None:
                run.notes.append("no PMS export folder is configured")
            else:
                run.source = self.connector.source
                self._phase(run, "PMS", lambda: self._pms(run, force, stop))
            stop.check()
            if self.inbox is not None:
                self._phase(run, "inbox", lambda: self._inbox(run, stop))
        except SyncCancelled:
            status = SyncRunStatus.CANCELLED
            run.notes.append("stopped; nothing of this run's open step was kept")
        if status is SyncRunStatus.OK and run.errors:
            status = SyncRunStatus.FAILED
        return self._finish(run, status)

    def _phase(self, run: _Run, name: str, step: Any) -> None:
        try:
            step()
        except SyncCancelled:
            raise
        except Exception as exc:
            log.info("sync %s step failed: %s", name, exc)  # recorded in sync_run
            log.debug("sync %s step failed", name, exc_info=True)
            run.errors.append(f"{name}: {_describe(exc)}")

    def _pms(self, run: _Run, force: bool, stop: StopFlag) -> None:
        assert self.connector is not None
        for attempt in (1, 2):
            try:
                with _collector_paused():
                    self._pms_once(run, force, stop)
                return
            except _StateMoved:
                run.reset_pms()
                if attempt == 2:
                    raise RuntimeError("another sync stored newer data meanwhile") from None
            except BaseException:
                run.reset_pms()
                raise

    def _pms_once(self, run: _Run, force: bool, stop: StopFlag) -> None:
        assert self.connector is not None
        source = self.connector.source
        state, state_run, previous_cursor = _load_state(self.engine, source)
        stop.check()
        cursor = self.connector.cursor(stop)
        if not force and previous_cursor and cursor == previous_cursor:
            run.notes.append(f"PMS export unchanged since sync #{state_run}")
            return
        changes = self.connector.changes(state, stop)
        stop.check()
        run.rows_seen = changes.rows_seen
        run.add_problems("pms", changes.problems)
        with write_session(self.engine) as session:
            conn = session.connection()
            if _state_run(conn, source) != state_run:
                raise _StateMoved
            db = _Db(conn, stop)
            with db.big_cache():
                self._write(session, db, run, changes)
            stop.check()
            _save_state(db, source, changes.cursor, run.id, changes.new_state())
            _insert_problems(db, run.id, run.take_unstored(self.options.max_problems_stored, "pms"))
            _update_counts(db, run)

    def _write(self, session: Session, db: _Db, run: _Run, changes: ChangeSet) -> None:
        now = self.clock.now()
        linked_before = _linked_appointments(db, now - timedelta(days=1))
        for name, (added, changed) in (
            ("providers", _write_providers(db, changes.providers)),
            ("patients", _write_patients(db, changes.patients, self.options.phone_region)),
        ):
            run.detail[f"{name}_inserted"], run.detail[f"{name}_updated"] = added, changed
            run.inserted += added
            run.updated += changed
        added, changed, newly_cancelled, refused, written = _write_appointments(
            db, changes.appointments
        )
        run.add_problems("pms", refused)
        run.detail["appointments_inserted"], run.detail["appointments_updated"] = added, changed
        run.inserted += added
        run.updated += changed
        run.detail["appointments_cancelled"] = newly_cancelled
        run.detail["rows_ignored"] = changes.appointments.ignored
        window = self._window(changes)
        vanished, guard = _cancel_vanished(db, changes.appointments, window)
        if guard:
            run.add_problems("pms", [guard])
        run.detail["appointments_vanished"] = len(vanished)
        run.cancelled = newly_cancelled + len(vanished)
        db.stop.check()
        flags = _linked_flags(db, linked_before, set(vanished), self.options.tz)
        flags += self._waiting_flags(session, db, written, bool(changes.patients.changed))
        flags += self._stale_waiting_flags(session, db, written, set(vanished), flags)
        clears = [flag for flag in flags if not flag.text]
        run.flagged = flag_for_attention(session, [f for f in flags if f.text], now, self.actor)
        run.detail["attention_cleared"] = flag_for_attention(session, clears, now, self.actor)

    def _window(self, changes: ChangeSet) -> tuple[datetime, datetime] | None:
        back, ahead = self.options.window_days_back, self.options.window_days_ahead
        if back is None and ahead is None:
            return changes.window
        if not changes.appointments.readable:
            return None
        today = self.clock.now().astimezone(self.options.tz).date()
        first = datetime.combine(today - timedelta(days=back or 0), dtime(0), self.options.tz)
        last = datetime.combine(today + timedelta(days=(ahead or 0) + 1), dtime(0), self.options.tz)
        return first, last - timedelta(microseconds=1)

    def _waiting_flags(
        self, session: Session, db: _Db, written: _Ids, patients_changed: bool
    ) -> list[AttentionFlag]:
        """Waiting requests whose patient got a bookable appointment in this run."""
        if not written and not patients_changed:
            return []
        today = self._today()
        found: dict[int, list[tuple[datetime, str]]] = {}
        rows = db.conn.exec_driver_sql(
            "SELECT r.id, a.pms_id, a.start FROM online_request r "
            "JOIN appointment a ON a.patient_id = r.patient_id "
            f"WHERE r.state = {db.ph} AND a.status IN ({db.marks(len(BOOKABLE_STATUSES))}) "
            f"AND a.start >= {db.ph} ORDER BY a.start",
            (RequestState.WAITING_PMS.value, *BOOKABLE_STATUSES, db.dt(today)),
        ).all()
        for request_id, pms_id, start in rows:
            if pms_id in written:
                found.setdefault(request_id, []).append((db.read_dt(start), pms_id))
        unmatched = session.exec(
            select(OnlineRequest).where(
                OnlineRequest.state == RequestState.WAITING_PMS.value,
                col(OnlineRequest.patient_id).is_(None),
            )
        ).all()
        for request in unmatched:
            patient_id = find_patient(session, request, self.options.phone_region).patient_id
            if patient_id is None or request.id is None:
                continue
            bookable = _bookable(db, _appointments_of(db, patient_id), today)
            if any(pms_id in written for _, pms_id in bookable):
                found[request.id] = bookable
        return [
            AttentionFlag(request_id, _can_link_text(appointments, self.options.tz), WAITING)
            for request_id, appointments in found.items()
        ]

    def _stale_waiting_flags(
        self,
        session: Session,
        db: _Db,
        written: _Ids,
        vanished: set[int],
        flags: Sequence[AttentionFlag],
    ) -> list[AttentionFlag]:
        """Waiting requests flagged "can link now" whose patient's appointments this run
        changed (cancelled, removed, moved, taken off the schedule): the flag is cleared
        when no bookable appointment is left, else says what is left now."""
        if not written and not vanished:
            return []
        flagged_now = {flag.request_id for flag in flags}
        today = self._today()
        out = []
        for request in session.exec(
            select(OnlineRequest).where(
                OnlineRequest.state == RequestState.WAITING_PMS.value,
                OnlineRequest.attention != "",
            )
        ).all():
            if request.id is None or request.id in flagged_now:
                continue
            patient_id = (
                request.patient_id
                or find_patient(session, request, self.options.phone_region).patient_id
            )
            rows = _appointments_of(db, patient_id) if patient_id is not None else []
            if rows and not any(pms_id in written or id_ in vanished for id_, pms_id, *_ in rows):
                continue  # none of its appointments changed in this run
            bookable = _bookable(db, rows, today)
            if not bookable:
                out.append(AttentionFlag(request.id, "", WAITING, note=_NOTHING_TO_LINK))
                continue
            text = _can_link_text(bookable, self.options.tz)
            if text != request.attention:
                out.append(AttentionFlag(request.id, text, WAITING))
        return out

    def _today(self) -> datetime:
        """The start of today in the practice's timezone."""
        tz = self.options.tz
        return datetime.combine(self.clock.now().astimezone(tz).date(), dtime(0), tz)

    def _inbox(self, run: _Run, stop: StopFlag) -> None:
        assert self.inbox is not None
        batch = self.inbox.read(stop)
        stop.check()
        run.detail["requests_waiting_files"] = batch.waiting
        if not batch.files:
            return
        run.add_problems("inbox", batch.problems)
        with write_session(self.engine) as session:
            imported = self.inbox.store(session, batch)
            run.add_problems("inbox", batch.match_problems)
            db = _Db(session.connection(), stop)
            _insert_problems(
                db, run.id, run.take_unstored(self.options.max_problems_stored, "inbox")
            )
            db.conn.exec_driver_sql(
                f"UPDATE sync_run SET requests_imported = {db.ph} WHERE id = {db.ph}",
                (imported, run.id),
            )
        run.requests_imported = imported
        run.detail["requests_duplicate"] = batch.count("duplicate")
        run.detail["requests_rejected"] = batch.count("rejected")
        for problem in self.inbox.file_away(batch, stop):
            run.errors.append(f"inbox: {problem}")

    # ------------------------------------------------------------ run records
    def _start(self, trigger: str) -> _Run:
        started = self.clock.now()
        with write_session(self.engine) as session:
            row = SyncRun(
                started_at=started,
                trigger=trigger,
                workstation=self.actor.label,
                holder=this_holder(),
                source=self.connector.source if self.connector else "",
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            return _Run(row.id, trigger, started, source=row.source)

    def _finish(self, run: _Run, status: SyncRunStatus) -> SyncSummary:
        """Record the end of the run; a database locked by another program is waited for
        a few more times (the end of a failed run is worth recording)."""
        for attempt in range(_FINISH_ATTEMPTS):
            unstored, stored = list(run.unstored), run.stored
            try:
                return self._finish_once(run, status)
            except OperationalError:
                if attempt == _FINISH_ATTEMPTS - 1:
                    raise
                run.unstored, run.stored = unstored, stored
                log.info("the database is busy; recording the end of sync #%s again", run.id)
                time.sleep(_FINISH_PAUSE)
        raise AssertionError("unreachable")

    def _finish_once(self, run: _Run, status: SyncRunStatus) -> SyncSummary:
        finished = max(self.clock.now(), run.started_at)
        with write_session(self.engine) as session:
            db = _Db(session.connection(), StopFlag())
            _insert_problems(db, run.id, run.take_unstored(self.options.max_problems_stored))
            row = session.get(SyncRun, run.id)
            if row is None:  # deleted meanwhile (a test's fresh schema): record it again
                row = SyncRun(id=run.id, started_at=run.started_at, trigger=run.trigger)
            row.finished_at = finished
            row.status = status
            row.source = run.source
            row.rows_seen, row.inserted, row.updated = run.rows_seen, run.inserted, run.updated
            row.cancelled, row.flagged = run.cancelled, run.flagged
            row.problems = len(run.problems)
            row.requests_imported = run.requests_imported
            row.note = "; ".join(run.notes)
            row.error = "; ".join(run.errors)
            row.detail = json.dumps(run.detail, sort_keys=True)
            session.add(row)
            session.flush()
            _prune(db, finished, self.options)
            summary = SyncSummary.from_row(row)
        log.info("%s", summary.text())
        return summary


# --------------------------------------------------------------------------- SQL helpers


class _Db:
    """Plain SQL on the run's connection: dialect details, chunking, stop checks."""

    def __init__(self, conn: sa.Connection, stop: StopFlag) -> None:
        self.conn = conn
        self.stop = stop
        self.sqlite = conn.dialect.name == "sqlite"
        self.ph = "?" if self.sqlite else "%s"
        self.differs = "IS NOT" if self.sqlite else "IS DISTINCT FROM"
        self.whole: dict[str, dict[str, int]] = {}  # table → its whole id map, while valid

    def marks(self, count: int) -> str:
        """``?, ?, ?``."""
        return ", ".join([self.ph] * count)

    def dt(self, value: datetime | None) -> Any:
        """A timezone-aware datetime as the column stores it (see ``UTCDateTime``)."""
        if value is None:
            return None
        if not self.sqlite:
            return value
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        text = value.isoformat(" ")  # "2026-12-03 14:30:00+00:00", or with microseconds
        return text[:19] + ".000000" if len(text) == 25 else text[:26]

    def read_dt(self, value: Any) -> datetime:
        """A datetime column value read with plain SQL, timezone-aware."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def day(self, value: date | None) -> Any:
        """A date as the column stores it."""
        if value is None:
            return None
        return value.isoformat() if self.sqlite else value

    def many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """``executemany`` in chunks; returns the rows changed."""
        total = 0
        for start in range(0, len(rows), _CHUNK):
            self.stop.check()
            result = self.conn.exec_driver_sql(sql, list(rows[start : start + _CHUNK]))
            total += max(result.rowcount, 0)
        return total

    def select_in(
        self, sql: str, values: Sequence[Any], before: tuple[Any, ...] = ()
    ) -> list[sa.Row[Any]]:
        """Run ``sql`` (with ``{}`` where the IN list goes) for chunks of ``values``."""
        rows: list[sa.Row[Any]] = []
        for start in range(0, len(values), _IN_CHUNK):
            chunk = tuple(values[start : start + _IN_CHUNK])
            rows.extend(
                self.conn.exec_driver_sql(sql.format(self.marks(len(chunk))), before + chunk).all()
            )
        return rows

    def insert_sql(self, table: str, columns: Sequence[str]) -> str:
        """A plain insert."""
        quote = self.conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        return f"INSERT INTO {table} ({names}) VALUES ({self.marks(len(columns))})"

    def upsert_sql(self, table: str, columns: Sequence[str]) -> str:
        """Insert, or update when a column differs: the row count says what was written."""
        data = [c for c in columns if c != "pms_id"]
        quote = self.conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in data)
        differs = " OR ".join(
            f"{table}.{quote(c)} {self.differs} excluded.{quote(c)}" for c in data
        )
        return (
            f"INSERT INTO {table} ({names}) VALUES ({self.marks(len(columns))}) "
            f"ON CONFLICT (pms_id) DO UPDATE SET {sets} WHERE {differs}"
        )

    def id_map(self, table: str, pms_ids: Sequence[str]) -> dict[str, int]:
        """``pms_id → id`` for these ids (or the whole table when they are many)."""
        if not pms_ids:
            return {}
        if len(pms_ids) > _LOAD_ALL_OVER:
            rows = self.conn.exec_driver_sql(f"SELECT pms_id, id FROM {table}").all()
            whole = self.whole[table] = {pms_id: id_ for pms_id, id_ in rows}
            return whole
        rows = self.select_in(f"SELECT pms_id, id FROM {table} WHERE pms_id IN ({{}})", pms_ids)
        return {pms_id: id_ for pms_id, id_ in rows}

    @contextmanager
    def big_cache(self) -> Iterator[None]:
        """A 64 MiB page cache on SQLite while writing many rows (then back)."""
        if not self.sqlite:
            self.conn.exec_driver_sql("SET LOCAL statement_timeout = '15min'")
            yield
            return
        before = self.conn.exec_driver_sql("PRAGMA cache_size").scalar()
        self.conn.exec_driver_sql("PRAGMA cache_size = -65536")
        try:
            yield
        finally:
            self.conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while rows are read and written: with a million
    rows alive it would walk them again and again (3-4 times the parsing work). The run
    makes no cycles worth collecting; it runs when the run is over."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _exclusive(engine: Engine) -> Iterator[bool]:
    """On PostgreSQL, one sync at a time across workstations (an advisory lock held for
    the run); elsewhere always True (SQLite serialises writers itself)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        got = bool(
            conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (_PG_LOCK_KEY,)).scalar()
        )
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_KEY,))
                conn.commit()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- state


def _load_state(engine: Engine, source: str) -> tuple[dict[str, bytes], int | None, str]:
    """The connector state stored for ``source``: data per name, run id, cursor."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT name, run_id, cursor, data FROM sync_state WHERE source = :s"),
            {"s": source},
        ).all()
    data = {name: bytes(blob) for name, _run, _cursor, blob in rows if name != _META}
    meta = [(run, cursor) for name, run, cursor, _blob in rows if name == _META]
    run_id, cursor = meta[0] if meta else (None, "")
    return data, run_id, cursor or ""


def _state_run(conn: sa.Connection, source: str) -> int | None:
    return conn.execute(
        sa.text("SELECT run_id FROM sync_state WHERE source = :s AND name = :n"),
        {"s": source, "n": _META},
    ).scalar()


def _save_state(db: _Db, source: str, cursor: str, run_id: int, state: Mapping[str, bytes]) -> None:
    names = [_META, *sorted(state)]  # files whose state did not change keep their row
    db.conn.exec_driver_sql(
        f"DELETE FROM sync_state WHERE source = {db.ph} AND name IN ({db.marks(len(names))})",
        (source, *names),
    )
    rows = [(source, _META, run_id, cursor, b"")]
    rows += [(source, name, run_id, "", data) for name, data in sorted(state.items())]
    db.conn.exec_driver_sql(
        f"INSERT INTO sync_state (source, name, run_id, cursor, data) VALUES ({db.marks(5)})",
        rows,
    )


# --------------------------------------------------------------------------- tables


def _existing(db: _Db, table: str, pms_ids: Sequence[str]) -> set[str]:
    if not pms_ids:
        return set()
    if len(pms_ids) > _LOAD_ALL_OVER:
        if not db.conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first():
            return set()
        return {r[0] for r in db.conn.exec_driver_sql(f"SELECT pms_id FROM {table}")}
    return {
        r[0] for r in db.select_in(f"SELECT pms_id FROM {table} WHERE pms_id IN ({{}})", pms_ids)
    }


def _upsert(
    db: _Db, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> tuple[int, int]:
    """Write rows; returns (inserted, updated)."""
    if not rows:
        return 0, 0
    ids = [r[0] for r in rows]
    existing = _existing(db, table, ids)
    writer = _Writer(db, table, columns, existing, _unique(ids, db.stop))
    with _indexes_rebuilt(db, table, len(rows) - len(existing), len(existing)):
        writer.write(rows)
    return writer.inserted, writer.updated


class _Writer:
    """Writes rows of a table a chunk at a time. When each id comes once (``unique``),
    the rows whose id is not in the table yet (not in ``existing``) are plainly inserted
    (the run holds the write lock: SQLite's, and on PostgreSQL the sync's own), the others
    upserted; otherwise all are upserted."""

    def __init__(
        self, db: _Db, table: str, columns: Sequence[str], existing: set[str], unique: bool
    ) -> None:
        self.db = db
        self.table = table
        self.existing = existing
        self.unique = unique
        self.insert_sql = db.insert_sql(table, columns)
        self.upsert_sql = db.upsert_sql(table, columns)
        self.inserted = self.updated = 0

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Write these rows (each id once in a run)."""
        self.db.whole.pop(self.table, None)
        existing = self.existing
        if existing:
            fresh = [r for r in rows if r[0] not in existing]
            known = [r for r in rows if r[0] in existing] if self.unique else rows
        else:
            fresh, known = rows, [] if self.unique else rows
        if self.unique:
            self.db.many(self.insert_sql, fresh)
            self.updated += self.db.many(self.upsert_sql, known)
        else:
            self.updated += self.db.many(self.upsert_sql, known) - len(fresh)
        self.inserted += len(fresh)


def _unique(ids: Sequence[str], stop: StopFlag) -> bool:
    """Whether each id comes once (a chunk at a time)."""
    seen: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        stop.check()
        part = ids[start : start + _CHUNK]
        before = len(seen)
        seen.update(part)
        if len(seen) - before != len(part):
            return False
    return True


@contextmanager
def _indexes_rebuilt(db: _Db, table: str, new: int, existing: int) -> Iterator[None]:
    """A bulk load (the first import) into a table that is empty or nearly so: on SQLite,
    drop its secondary indexes and build them again afterwards (sorting once beats
    inserting a million keys in random order). In the run's transaction: a failure puts
    them back; readers (WAL) keep seeing the previous state meanwhile."""
    if not db.sqlite or new < _REBUILD_INDEXES_OVER or new < 4 * existing:
        yield
        return
    indexes = list(SQLModel.metadata.tables[table].indexes)
    quote = db.conn.dialect.identifier_preparer.quote
    for index in indexes:
        db.conn.exec_driver_sql(f"DROP INDEX IF EXISTS {quote(str(index.name))}")
    yield
    for index in indexes:
        db.stop.check()
        db.conn.execute(sa.schema.CreateIndex(index))


def _write_providers(db: _Db, table: TableChanges[ProviderRow]) -> tuple[int, int]:
    rows = [
        (p.pms_id, p.abbr, p.first_name, p.last_name, p.title, p.active)
        for p in (c.row for c in table.changed)
    ]
    return _upsert(db, "provider", PROVIDER_COLUMNS, rows)


def _write_patients(db: _Db, table: TableChanges[PatientRow], region: str) -> tuple[int, int]:
    rows: list[tuple[Any, ...]] = []
    alt_keys: dict[str, frozenset[str]] = {}
    for done, p in enumerate(c.row for c in table.changed):
        if done % _CHUNK == 0:
            db.stop.check()
        k = patient_keys(
            p.first_name,
            p.last_name,
            p.preferred_name,
            p.email,
            p.phone_home,
            p.phone_mobile,
            region,
        )
        rows.append(
            (
                p.pms_id,
                p.first_name,
                p.last_name,
                p.preferred_name,
                k.first_name_key,
                k.last_name_key,
                k.preferred_name_key,
                k.last_name_sound,
                k.email_key,
                k.phone_home_key,
                k.phone_mobile_key,
                db.day(p.birthdate),
                p.email,
                p.phone_home,
                p.phone_mobile,
                p.guarantor_pms_id,
                p.no_email,
            )
        )
        if k.last_name_alt_keys:
            alt_keys[p.pms_id] = k.last_name_alt_keys
    counts = _upsert(db, "patient", PATIENT_COLUMNS, rows)
    if rows:
        ids = db.id_map("patient", [r[0] for r in rows])
        patient_ids = sorted(ids.values())
        if db.conn.exec_driver_sql("SELECT 1 FROM patient_name_key LIMIT 1").first():
            for start in range(0, len(patient_ids), _IN_CHUNK):
                chunk = tuple(patient_ids[start : start + _IN_CHUNK])
                db.conn.exec_driver_sql(
                    f"DELETE FROM patient_name_key WHERE patient_id IN ({db.marks(len(chunk))})",
                    chunk,
                )
        keys = [(ids[pms_id], key) for pms_id, alts in alt_keys.items() for key in sorted(alts)]
        key_column = _quoted(db, "key")
        db.many(
            f"INSERT INTO patient_name_key (patient_id, {key_column}) VALUES ({db.marks(2)})",
            keys,
        )
    return counts


def _quoted(db: _Db, name: str) -> str:
    return db.conn.dialect.identifier_preparer.quote(name)


def _write_appointments(
    db: _Db, table: TableChanges[AppointmentRow]
) -> tuple[int, int, int, list[RowProblem], _Ids]:
    """Write the changed appointments; returns (inserted, updated, newly cancelled,
    rows refused for an unknown patient or provider, ids written). Converted a chunk at a
    time, a column at a time; a chunk with an unknown reference is checked row by row."""
    block = _appointment_block(table)
    if not len(block):
        return 0, 0, 0, [], _Ids()
    columns = block.columns
    providers = {
        pms_id: id_ for pms_id, id_ in db.conn.exec_driver_sql("SELECT pms_id, id FROM provider")
    }
    patients = db.whole.get("patient")  # loaded by the patients' writing of this run
    if patients is None:
        wanted: set[str] = set()
        for start in range(0, len(block), _CHUNK):
            wanted.update(columns.patient_pms_id[start : start + _CHUNK])
        patients = db.id_map("patient", sorted(wanted))
        del wanted
    refused: list[RowProblem] = []
    newly_cancelled = 0
    written = _Ids()
    # datetime → as stored (the times repeat); one table per column: a start and an update
    # at the same instant are equal but not the same object, and comparing them is slow
    starts: dict[Any, Any] = {}
    updates: dict[Any, Any] = {None: None}
    status_values = {s: s.value for s in AppointmentStatus}
    cancelled = AppointmentStatus.CANCELLED
    existing = _existing(db, "appointment", columns.pms_id)
    writer = _Writer(
        db, "appointment", APPOINTMENT_COLUMNS, existing, _unique(columns.pms_id, db.stop)
    )
    with _indexes_rebuilt(db, "appointment", len(block) - len(existing), len(existing)):
        for start in range(0, len(block), _CHUNK):  # converted and written
            db.stop.check()
            part = block.slice(start, start + _CHUNK)
            got = part.columns
            patient_ids = list(map(patients.get, got.patient_pms_id))
            provider_ids = list(map(providers.get, got.provider_pms_id))
            if None in patient_ids or None in provider_ids:
                keep = _known_references(table, part, patient_ids, provider_ids, refused)
                got = AppointmentColumns()
                got.extend(part.columns, keep)
                patient_ids = list(compress(patient_ids, keep))
                provider_ids = list(compress(provider_ids, keep))
            if existing:
                cancelled_ids = [
                    pms_id
                    for pms_id in compress(got.pms_id, map(is_, got.status, repeat(cancelled)))
                    if pms_id in existing
                ]
                newly_cancelled += len(
                    db.select_in(
                        f"SELECT id FROM appointment WHERE status <> {db.ph} AND pms_id IN ({{}})",
                        cancelled_ids,
                        (_CANCELLED,),
                    )
                )
            written.add(got.pms_id)
            rows = list(
                zip(
                    got.pms_id,
                    patient_ids,
                    provider_ids,
                    _as_stored(db, got.start, starts),
                    got.duration_min,
                    got.operatory,
                    got.reason,
                    map(status_values.__getitem__, got.status),
                    _as_stored(db, got.updated_at, updates),
                    strict=True,
                )
            )
            writer.write(rows)
    return writer.inserted, writer.updated, newly_cancelled, refused, written


def _as_stored(db: _Db, moments: Sequence[Any], stored: dict[Any, Any]) -> list[Any]:
    """These (repeating) datetimes as the column stores them; ``stored`` remembers."""
    out = list(map(stored.get, moments, repeat(_MISSING)))
    if any(map(is_, out, repeat(_MISSING))):
        for moment in set(compress(moments, map(is_, out, repeat(_MISSING)))):
            stored[moment] = db.dt(moment)
        out = list(map(stored.__getitem__, moments))
    return out


_MISSING: Any = object()


class _Ids:
    """The ids written, in parts; a set of them is made only when asked (seldom)."""

    def __init__(self) -> None:
        self._parts: list[list[str]] = []
        self._set: set[str] | None = None

    def add(self, ids: list[str]) -> None:
        """Add a part."""
        self._parts.append(ids)
        self._set = None

    def __bool__(self) -> bool:
        return any(self._parts)

    def __contains__(self, pms_id: object) -> bool:
        if self._set is None:
            self._set = set().union(*self._parts)
        return pms_id in self._set


def _appointment_block(table: TableChanges[AppointmentRow]) -> AppointmentBlock:
    """All changed appointments of ``table`` column by column, in the order of their
    keys (``changed`` merged into ``block``)."""
    if not table.changed:
        return table.block if table.block is not None else AppointmentBlock()
    rows = AppointmentBlock(
        AppointmentColumns.of(c.row for c in table.changed),
        [c.line for c in table.changed],
        [c.key for c in table.changed],
    )
    if table.block is None or not len(table.block):
        return rows
    block = table.block
    out = AppointmentBlock()
    done = 0
    for index, key in enumerate(rows.keys):  # both in key order: merge
        upto = bisect_left(block.keys, key, done)
        _extend(out, block.slice(done, upto))
        _extend(out, rows.slice(index, index + 1))
        done = upto
    _extend(out, block.slice(done, len(block)))
    return out


def _extend(block: AppointmentBlock, more: AppointmentBlock) -> None:
    block.columns.extend(more.columns)
    block.lines.extend(more.lines)
    block.keys.extend(more.keys)


def _known_references(
    table: TableChanges[AppointmentRow],
    part: AppointmentBlock,
    patient_ids: Sequence[int | None],
    provider_ids: Sequence[int | None],
    refused: list[RowProblem],
) -> list[bool]:
    """Per row, whether its patient and provider are known; the others are refused (a
    problem each, and read again next time)."""
    keep: list[bool] = []
    columns = part.columns
    for patient, provider, line, key, patient_id, provider_id in zip(
        columns.patient_pms_id,
        columns.provider_pms_id,
        part.lines,
        part.keys,
        patient_ids,
        provider_ids,
        strict=True,
    ):
        reason = ""
        if patient_id is None:
            reason = f"unknown patient {patient!r}"
        elif provider and provider_id is None:
            reason = f"unknown provider {provider!r}"
        if reason:
            refused.append(RowProblem(table.file, line, reason))
            table.refused.add(key)
        keep.append(not reason)
    return keep


def _cancel_vanished(
    db: _Db, table: TableChanges[AppointmentRow], window: tuple[datetime, datetime] | None
) -> tuple[dict[int, str], RowProblem | None]:
    """Cancel the appointments gone from the export inside ``window``; returns
    ``{id: pms_id}`` of those cancelled, or a problem when suspiciously many are gone."""
    if window is None or not table.readable or not table.removed_ids:
        return {}, None
    first, last = window
    rows = db.select_in(
        f"SELECT id, pms_id, start FROM appointment WHERE status <> {db.ph} AND pms_id IN ({{}})",
        sorted(table.removed_ids),
        (_CANCELLED,),
    )
    gone = {id_: pms_id for id_, pms_id, start in rows if first <= db.read_dt(start) <= last}
    if gone and not table.complete:
        return {}, RowProblem(
            table.file,
            0,
            f"{len(gone)} appointment(s) missing from the export were not cancelled: "
            "the file has rows that could not be read",
        )
    if len(gone) > _GUARD_MIN and len(gone) > table.previous * _GUARD_SHARE:
        return {}, RowProblem(
            table.file,
            0,
            f"{len(gone)} of {table.previous} appointments are missing from the export; "
            "they were not cancelled (a partial export?)",
        )
    ids = sorted(gone)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = tuple(ids[start : start + _IN_CHUNK])
        db.conn.exec_driver_sql(
            f"UPDATE appointment SET status = {db.ph} WHERE id IN ({db.marks(len(chunk))})",
            (_CANCELLED, *chunk),
        )
    return gone, None


# --------------------------------------------------------------------------- flags


@dataclass(frozen=True)
class _Linked:
    request_id: int
    appointment_id: int
    pms_id: str
    status: str
    start: Any  # as stored


def _linked_appointments(db: _Db, since: datetime) -> dict[int, _Linked]:
    """Appointments of linked requests from ``since`` on, by appointment id."""
    rows = db.conn.exec_driver_sql(
        "SELECT r.id, a.id, a.pms_id, a.status, a.start FROM online_request r "
        "JOIN appointment a ON a.id = r.linked_appointment_id "
        f"WHERE r.state = {db.ph} AND a.start >= {db.ph}",
        (RequestState.LINKED.value, db.dt(since)),
    ).all()
    return {
        a_id: _Linked(r_id, a_id, pms_id, status, start)
        for r_id, a_id, pms_id, status, start in rows
    }


def _linked_flags(
    db: _Db, before: Mapping[int, _Linked], vanished: set[int], tz: ZoneInfo
) -> list[AttentionFlag]:
    """Linked requests whose appointment was cancelled, taken off the schedule, removed
    from the export or moved by this run."""
    if not before:
        return []
    rows = db.select_in(
        "SELECT id, status, start FROM appointment WHERE id IN ({})", sorted(before)
    )
    flags = []
    for appointment_id, status, start in rows:
        old = before[appointment_id]
        when = format_local(db.read_dt(old.start), tz)
        what = f"The linked appointment {old.pms_id} on {when}"
        if appointment_id in vanished:
            text = (
                f"{what} is no longer in the PMS export (deleted there?): it counts as cancelled."
            )
        elif status != old.status and status == _CANCELLED:
            text = f"{what} was cancelled in the PMS."
        elif status != old.status and status == AppointmentStatus.UNSCHEDULED.value:
            text = f"{what} was taken off the schedule in the PMS (unscheduled)."
        elif start != old.start and status in BOOKABLE_STATUSES:
            text = f"{what} was moved in the PMS to {format_local(db.read_dt(start), tz)}."
        else:
            continue
        flags.append(
            AttentionFlag(
                old.request_id, text, RequestState.LINKED, linked_appointment_id=appointment_id
            )
        )
    return flags


WAITING = RequestState.WAITING_PMS
_NOTHING_TO_LINK = (
    "Flag cleared: the PMS no longer has a bookable appointment for this patient "
    "(cancelled, removed or taken off the schedule there)."
)


def _appointments_of(db: _Db, patient_id: int) -> list[tuple[int, str, str, Any]]:
    """(id, pms_id, status, start as stored) of a patient's appointments."""
    rows = db.conn.exec_driver_sql(
        f"SELECT id, pms_id, status, start FROM appointment WHERE patient_id = {db.ph}",
        (patient_id,),
    ).all()
    return [(id_, pms_id, status, start) for id_, pms_id, status, start in rows]


def _bookable(
    db: _Db, rows: Sequence[tuple[int, str, str, Any]], today: datetime
) -> list[tuple[datetime, str]]:
    """(start, pms_id) of the appointments that can be linked, from today on, by start."""
    found = [
        (db.read_dt(start), pms_id)
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


# --------------------------------------------------------------------------- run records


def _insert_problems(db: _Db, run_id: int, problems: Sequence[tuple[str, RowProblem]]) -> None:
    if problems:
        db.conn.exec_driver_sql(
            f"INSERT INTO sync_problem (run_id, source, file, line, reason) VALUES ({db.marks(5)})",
            [(run_id, source, p.file, p.line, p.reason) for source, p in problems],
        )


def _update_counts(db: _Db, run: _Run) -> None:
    db.conn.exec_driver_sql(
        f"UPDATE sync_run SET rows_seen = {db.ph}, inserted = {db.ph}, updated = {db.ph}, "
        f"cancelled = {db.ph}, flagged = {db.ph}, problems = {db.ph}, detail = {db.ph} "
        f"WHERE id = {db.ph}",
        (
            run.rows_seen,
            run.inserted,
            run.updated,
            run.cancelled,
            run.flagged,
            len(run.problems),
            json.dumps(run.detail, sort_keys=True),
            run.id,
        ),
    )


def _prune(db: _Db, now: datetime, options: SyncOptions) -> None:
    """Forget runs older than ``keep_runs_days`` and problems of all but the latest runs."""
    cutoff = db.dt(now - timedelta(days=options.keep_runs_days))
    old = f"SELECT id FROM sync_run WHERE started_at < {db.ph}"
    db.conn.exec_driver_sql(f"DELETE FROM sync_problem WHERE run_id IN ({old})", (cutoff,))
    db.conn.exec_driver_sql(f"DELETE FROM sync_run WHERE started_at < {db.ph}", (cutoff,))
    threshold = db.conn.exec_driver_sql(
        f"SELECT id FROM sync_run ORDER BY id DESC LIMIT 1 OFFSET {int(options.keep_problem_runs)}"
    ).scalar()
    if threshold is not None:
        db.conn.exec_driver_sql(f"DELETE FROM sync_problem WHERE run_id <= {db.ph}", (threshold,))
