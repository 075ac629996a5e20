"""The app's syncs run in a separate process, so a big export never stalls the screen.

A sync of a million-row export spends seconds in C-speed passes and in freeing large
structures; in the app's own process those hold the GIL and freeze the screen for
hundreds of milliseconds at a time. :class:`SyncWorker` runs each of the app's syncs as
``python -m linker_tui.sync.worker`` instead (the same :class:`SyncEngine`, the same one
transaction per run), at a lower CPU priority, and waits for it in a thread:

* the settings travel on the child's standard input as JSON (never on its command line,
  where other users could read them); the run's summary comes back as the last line of
  its standard output; what it logs is kept, never printed on the app's screen;
* a set :class:`StopFlag` (the app quits, staff stop it) sends the child SIGTERM: it stops
  at its next check and rolls back; one that has not gone after ``grace`` seconds is
  killed, which also leaves the previous state (its transaction never committed);
* a child that dies without a summary (killed, out of memory) is reported as a failed run
  with the end of what it wrote to stderr, and the run it started is recorded as ended;
* each run gets a fresh process, started for it and gone when it ends: no process waits
  while there is nothing to do, and a run's memory goes back to the system.

``linker-tui sync`` (cron, systemd) needs none of this: it is its own process already.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock, SystemClock
from linker_tui.common.text import CleanFormatter
from linker_tui.settings.config import Settings
from linker_tui.store.db import write_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import SyncRun
from linker_tui.sync.control import StopFlag, take_turn
from linker_tui.sync.summary import SyncSummary

log = logging.getLogger(__name__)

SUMMARY_MARK = "linker-tui-sync-summary: "
"""Prefix of the child's last stdout line (the summary as JSON)."""

_POLL = 0.05
_NICE = 5  # background work yields the CPU to the screen
_STDERR_TAIL = 400


class SyncWorker:
    """Runs syncs in a child process, one at a time per worker (per app)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        clock: Clock | None = None,
        *,
        grace: float = 0.5,
    ) -> None:
        self.settings = settings
        self.engine = engine  # the app's database (the child connects to the same one)
        self.clock = clock or SystemClock()
        self.grace = grace
        self.child_pid: int | None = None  # the running child's process id
        self._lock = threading.Lock()

    def run(
        self,
        *,
        trigger: str = "manual",
        force: bool = False,
        stop: StopFlag | None = None,
        wait: bool = True,
    ) -> SyncSummary:
        """Sync once in a child process and return its summary (errors are in it).

        Blocking: call it from a worker thread. When this worker's child is already
        running, wait for it (``wait``) and then run, or return a ``skipped`` summary at
        once; a set ``stop`` ends the run (``cancelled``).
        """
        stop = stop or StopFlag()
        refused = take_turn(self._lock, stop, wait)
        if refused is not None:
            return self._not_run(trigger, refused.status, refused.reason)
        try:
            if stop.is_set:
                return self._not_run(trigger, SyncRunStatus.CANCELLED, "stopped before it began")
            return self._run_child(trigger, force, stop)
        finally:
            self._lock.release()

    def _run_child(self, trigger: str, force: bool, stop: StopFlag) -> SyncSummary:
        started = self.clock.now()
        settings = settings_payload(self.settings)
        settings["database_url"] = self.engine.url.render_as_string(hide_password=False)
        request = json.dumps({"settings": settings, "trigger": trigger, "force": force})
        newest_run = _newest_run_id(self.engine)
        try:
            child = _spawn()
        except OSError as exc:
            return self._failed(trigger, started, f"could not start the sync process: {exc}")
        self.child_pid = child.pid
        stopped = False
        out, err = "", ""
        pending: str | None = request
        while True:
            try:
                out, err = child.communicate(pending, timeout=_POLL)
                break
            except subprocess.TimeoutExpired:
                pending = None  # already written; retrying loses no output
                if stop.is_set and not stopped:
                    stopped = True
                    child.send_signal(signal.SIGTERM)
                    threading.Thread(
                        target=_kill_after, args=(child, self.grace), daemon=True
                    ).start()
        self.child_pid = None
        summary = parse_summary(out)
        if summary is not None:
            return summary
        if stopped:
            note = "stopped; nothing was kept"
            _close_orphaned_runs(self.engine, newest_run, SyncRunStatus.CANCELLED, note=note)
            return self._not_run(trigger, SyncRunStatus.CANCELLED, note)
        tail = err.strip()[-_STDERR_TAIL:]
        reason = f"the sync process ended with status {child.returncode}"
        error = f"{reason}: {tail}" if tail else reason
        _close_orphaned_runs(self.engine, newest_run, SyncRunStatus.FAILED, error=error)
        return self._failed(trigger, started, error)

    def close(self) -> None:
        """Nothing to end: no child waits between runs (a running one is ended by its
        stop flag)."""

    def _not_run(self, trigger: str, status: SyncRunStatus, note: str) -> SyncSummary:
        now = self.clock.now()
        return SyncSummary(None, status, trigger, now, now, note=note)

    def _failed(self, trigger: str, started: datetime, error: str) -> SyncSummary:
        log.warning("sync process failed: %s", error)
        return SyncSummary(
            None, SyncRunStatus.FAILED, trigger, started, self.clock.now(), error=error
        )


def _spawn() -> subprocess.Popen[str]:
    """A child process that loads the sync code and reads its request on stdin."""
    return subprocess.Popen(
        # -P: the installed package, never a linker_tui folder in the cwd
        [sys.executable, "-P", "-m", "linker_tui.sync.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,  # the terminal's signals are the app's, not its
        env=child_environment(os.environ),
    )


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The app's environment without its secrets (``LINKER_…PASSWORD…``, e.g. the SMTP
    password): a sync sends no email, and a child's environment can be read by others
    running as the same user (``/proc/<pid>/environ``)."""
    return {
        name: value
        for name, value in environ.items()
        if not (name.upper().startswith("LINKER_") and "PASSWORD" in name.upper())
    }


def _newest_run_id(engine: Engine) -> int | None:
    """The id of the newest ``sync_run`` (0: none) before a child starts its own; None if
    the database cannot be read (the child will say why)."""
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(SyncRun.id))).scalar() or 0)
    except SQLAlchemyError:
        return None


def _close_orphaned_runs(
    engine: Engine, after_id: int | None, status: SyncRunStatus, *, note: str = "", error: str = ""
) -> None:
    """A child that was killed (or died) could not record the end of its run: record it, so
    the status line does not say "syncing…" for a run that is over. Its run is the one this
    workstation started after ``after_id`` that is still ``running`` (nothing of it was
    kept: its transaction never committed)."""
    if after_id is None:
        return
    label = Actor.current().label
    try:
        with write_session(engine) as session:
            session.execute(
                sa.update(SyncRun)
                .where(
                    col(SyncRun.id) > after_id,
                    col(SyncRun.status) == SyncRunStatus.RUNNING.value,
                    col(SyncRun.workstation) == label,
                )
                .values(
                    status=status.value,
                    finished_at=datetime.now(UTC),
                    note=note,
                    error=error[:_STDERR_TAIL],
                )
            )
    except SQLAlchemyError:
        log.warning("could not record the end of a killed sync's run", exc_info=True)


def _kill_after(child: subprocess.Popen[str], grace: float) -> None:
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()


def settings_payload(settings: Settings) -> dict[str, Any]:
    """The settings a child needs, as JSON values. Passwords are left out (JSON would
    mask them): a sync sends no email, and the child reads the Open Dental password from
    the environment or its file as the app did."""
    return settings.model_dump(mode="json", exclude={"smtp_password", "open_dental_password"})


def summary_line(summary: SyncSummary) -> str:
    """The child's last stdout line: :data:`SUMMARY_MARK` + the summary as JSON."""
    data = asdict(summary)
    data["status"] = summary.status.value
    data["started_at"] = summary.started_at.isoformat()
    data["finished_at"] = summary.finished_at.isoformat() if summary.finished_at else None
    data["detail"] = dict(summary.detail)
    return SUMMARY_MARK + json.dumps(data, sort_keys=True)


def parse_summary(output: str) -> SyncSummary | None:
    """The summary in a child's stdout, or None if it wrote none (it was killed)."""
    for line in reversed(output.splitlines()):
        if not line.startswith(SUMMARY_MARK):
            continue
        try:
            data = json.loads(line[len(SUMMARY_MARK) :])
            data["status"] = SyncRunStatus(data["status"])
            data["started_at"] = datetime.fromisoformat(data["started_at"])
            if data["finished_at"] is not None:
                data["finished_at"] = datetime.fromisoformat(data["finished_at"])
            return SyncSummary(**data)
        except (ValueError, TypeError, KeyError):
            log.warning("unreadable summary from the sync process: %r", line[:200])
            return None
    return None


def main() -> int:
    """The child: load the sync code, read the request on stdin (none: the app has
    gone; exit), sync once, print the summary line."""
    from linker_tui.common.actor import Actor
    from linker_tui.common.clock import SystemClock
    from linker_tui.logs import setup_logging
    from linker_tui.store.db import make_engine
    from linker_tui.store.schema import ensure_schema
    from linker_tui.sync.configure import sync_engine  # the engine, only in the child

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(CleanFormatter("%(name)s: %(message)s"))  # data in messages: cleaned
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    with contextlib.suppress(OSError):  # not allowed here: run at the normal priority
        os.nice(_NICE)
    text = sys.stdin.read()
    if not text:  # the app ended before it sent the request
        return 0
    request = json.loads(text)
    settings = Settings(**request["settings"])
    setup_logging(settings, command="sync process")
    stop = StopFlag()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    engine = make_engine(settings.effective_database_url)
    ensure_schema(engine, auto_upgrade=not settings.database_url)  # as Services.open does
    sync = sync_engine(settings, engine, SystemClock(), Actor.current())
    summary = sync.run(trigger=str(request["trigger"]), force=bool(request["force"]), stop=stop)
    engine.dispose()
    print(summary_line(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
