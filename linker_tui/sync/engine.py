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
4. ranking: open requests never ranked (imported before requests were ranked on arrival)
   get their patient ranking stored, a batch per transaction;
5. finishes the run record (``ok``, ``failed`` with the error, or ``cancelled``).

Between phases and every few thousand rows the run checks its :class:`StopFlag`; a stop
rolls back the open transaction. Only one run at a time: a lock in the process, and on
PostgreSQL an advisory lock across workstations (another run is ``skipped``).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock
from linker_tui.matching.patient_search import store_rankings
from linker_tui.store.db import may_update, write_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import SyncRun
from linker_tui.sync.appointment_writer import cancel_vanished, write_appointments
from linker_tui.sync.connector import ChangeSet, Connector
from linker_tui.sync.control import StopFlag, SyncCancelled, take_turn
from linker_tui.sync.dead_runs import close_dead_runs, this_holder
from linker_tui.sync.flags import (
    FlagContext,
    linked_appointments,
    linked_flags,
    stale_waiting_flags,
    waiting_flags,
    watched_patients,
)
from linker_tui.sync.inbox import RequestInbox
from linker_tui.sync.run_record import (
    RunCounts,
    insert_problems,
    prune,
    record_end,
    update_counts,
    update_requests_imported,
)
from linker_tui.sync.sql import RunSql
from linker_tui.sync.state import StateMoved, load_state, save_state, state_run
from linker_tui.sync.summary import SyncSummary
from linker_tui.sync.writers import write_patients, write_providers
from linker_tui.workflow.attention import flag_for_attention

log = logging.getLogger(__name__)

_FINISH_ATTEMPTS, _FINISH_PAUSE = 5, 1.0  # recording a run's end in a busy database
_PG_LOCK_KEY = 0x6C696E6B5F73796E  # "link_syn"


# --------------------------------------------------------------------------- results


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
        if refused is not None:
            return self._not_run(trigger, refused.status, refused.reason)
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
            stop.check()
            self._phase(run, "ranking", lambda: self._rank_unranked(run, stop))
        except SyncCancelled:
            status = SyncRunStatus.CANCELLED
            run.notes.append("stopped; nothing of this run's open step was kept")
        if status is SyncRunStatus.OK and run.errors:
            status = SyncRunStatus.FAILED
        return self._finish(run, status)

    def _phase(self, run: RunCounts, name: str, step: Any) -> None:
        try:
            step()
        except SyncCancelled:
            raise
        except Exception as exc:
            log.info("sync %s step failed: %s", name, exc)  # recorded in sync_run
            log.debug("sync %s step failed", name, exc_info=True)
            run.errors.append(f"{name}: {_describe(exc)}")

    def _pms(self, run: RunCounts, force: bool, stop: StopFlag) -> None:
        assert self.connector is not None
        for attempt in (1, 2):
            try:
                with _collector_paused():
                    self._pms_once(run, force, stop)
                return
            except StateMoved:
                run.reset_pms()
                if attempt == 2:
                    raise RuntimeError("another sync stored newer data meanwhile") from None
            except BaseException:
                run.reset_pms()
                raise

    def _pms_once(self, run: RunCounts, force: bool, stop: StopFlag) -> None:
        assert self.connector is not None
        source = self.connector.source
        state, stored_by, previous_cursor = load_state(self.engine, source)
        stop.check()
        cursor = self.connector.cursor(stop)
        if not force and previous_cursor and cursor == previous_cursor:
            run.notes.append(f"PMS export unchanged since sync #{stored_by}")
            return
        changes = self.connector.changes(state, stop)
        del state  # what the connector did not keep of the stored state is freed now
        try:
            stop.check()
            with write_session(self.engine) as session:
                conn = session.connection()
                if state_run(conn, source) != stored_by:
                    raise StateMoved
                sql = RunSql(conn, stop)
                with sql.big_cache():
                    self._write(session, sql, run, changes)
                stop.check()
                save_state(sql, source, changes.cursor, run.id, changes.new_state())
                limit = self.options.max_problems_stored
                insert_problems(sql, run.id, run.take_unstored(limit, "pms"))
                update_counts(sql, run)
        finally:
            changes.close()  # a read kept open for the batches (Open Dental's snapshot)

    def _write(self, session: Session, sql: RunSql, run: RunCounts, changes: ChangeSet) -> None:
        now = self.clock.now()
        linked_before = linked_appointments(sql, now - timedelta(days=1))
        run.count("providers", *write_providers(sql, changes.providers))
        patients = changes.patients
        patients_changed = bool(patients.changed) or patients.row_batches is not None
        run.count("patients", *write_patients(sql, changes.patients, self.options.phone_region))
        changes.patients.changed = []  # let go once written (a big import's: tens of MiB)
        ctx = FlagContext(session, sql, self._today(), self.options.tz, self.options.phone_region)
        written = write_appointments(sql, changes.appointments, watched_patients(ctx))
        # a big export is read while it is written: what was read is known now
        run.rows_seen = changes.rows_seen
        run.add_problems("pms", changes.problems)
        run.add_problems("pms", written.refused)
        run.count("appointments", written.inserted, written.updated)
        run.detail["appointments_cancelled"] = written.newly_cancelled
        run.detail["rows_ignored"] = changes.appointments.ignored
        vanished, guard = cancel_vanished(sql, changes.appointments, self._window(changes))
        if guard:
            run.add_problems("pms", [guard])
        run.detail["appointments_vanished"] = len(vanished)
        run.cancelled = written.newly_cancelled + len(vanished)
        sql.stop.check()
        flags = linked_flags(sql, linked_before, set(vanished), self.options.tz)
        flags += waiting_flags(ctx, written.ids, patients_changed)
        flags += stale_waiting_flags(ctx, written.ids, set(vanished), flags)
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

    def _today(self) -> datetime:
        """The start of today in the practice's timezone."""
        tz = self.options.tz
        return datetime.combine(self.clock.now().astimezone(tz).date(), dtime(0), tz)

    def _inbox(self, run: RunCounts, stop: StopFlag) -> None:
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
            sql = RunSql(session.connection(), stop)
            limit = self.options.max_problems_stored
            insert_problems(sql, run.id, run.take_unstored(limit, "inbox"))
            update_requests_imported(sql, run.id, imported)
        run.requests_imported = imported
        run.detail["requests_duplicate"] = batch.count("duplicate")
        run.detail["requests_rejected"] = batch.count("rejected")
        for problem in self.inbox.file_away(batch, stop):
            run.errors.append(f"inbox: {problem}")

    def _rank_unranked(self, run: RunCounts, stop: StopFlag) -> None:
        """Open requests never ranked (imported before requests were ranked on arrival)
        are ranked and their rankings stored, one batch per transaction: the request
        list shows stored rankings only. The desk role of a shared PostgreSQL database may
        not update requests: there ``linker-tui db upgrade`` (the admin) stores them."""
        if not may_update(self.engine, "online_request"):
            return
        ranked = store_rankings(self.engine, self.options.phone_region, stop.check)
        if ranked:
            run.detail["requests_ranked"] = ranked

    # ------------------------------------------------------------ run records
    def _start(self, trigger: str) -> RunCounts:
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
            return RunCounts(row.id, trigger, started, source=row.source)

    def _finish(self, run: RunCounts, status: SyncRunStatus) -> SyncSummary:
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

    def _finish_once(self, run: RunCounts, status: SyncRunStatus) -> SyncSummary:
        finished = max(self.clock.now(), run.started_at)
        with write_session(self.engine) as session:
            sql = RunSql(session.connection(), StopFlag())
            insert_problems(sql, run.id, run.take_unstored(self.options.max_problems_stored))
            row = session.get(SyncRun, run.id)
            if row is None:  # deleted meanwhile (a test's fresh schema): record it again
                row = SyncRun(id=run.id, started_at=run.started_at, trigger=run.trigger)
            record_end(row, run, status, finished)
            session.add(row)
            session.flush()
            prune(sql, finished, self.options.keep_runs_days, self.options.keep_problem_runs)
            summary = SyncSummary.from_row(row)
        log.info("%s", summary.text())
        return summary


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
