"""The app's syncs in a child process (``linker_tui.sync.worker``): the same results as a
sync in the app's process, stopping (SIGTERM, then kill) that keeps nothing, a child that
dies, one child at a time, and the summary line that carries the result back."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from linker_tui.services import Services
from linker_tui.settings.config import Settings
from linker_tui.store.db import make_engine, read_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import Appointment, SyncRun
from linker_tui.sync import worker as worker_module
from linker_tui.sync.control import StopFlag
from linker_tui.sync.queries import sync_status
from linker_tui.sync.summary import SyncSummary
from linker_tui.sync.worker import SyncWorker, _spawn, parse_summary, summary_line
from tests.sync_support import sample


def _settings(engine: Engine, tmp_path: Path, export: Path, **more: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        practice_timezone="America/Toronto",
        pms_export_dir=export,
        inbox_dir=tmp_path / "inbox",
        **more,  # type: ignore[arg-type]
    )


def _runs(engine: Engine) -> list[SyncRun]:
    with read_session(engine) as s:
        return list(s.exec(select(SyncRun).order_by(col(SyncRun.id))).all())


def _hung_export(tmp_path: Path) -> Path:
    """An export whose appointments file is a FIFO nobody writes to (a hung network
    share): a child reading it blocks until it is stopped or killed."""
    export = sample().write(tmp_path / "export", age=60)
    (export / "appointments.csv").unlink()
    os.mkfifo(export / "appointments.csv")
    return export


def _wait_for_a_run(engine: Engine) -> None:
    """Until the child has recorded the start of its run (it then hangs reading)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not _runs(engine):
        time.sleep(0.02)
    assert _runs(engine), "the child never started its run"


def _appointments(engine: Engine) -> int:
    with read_session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Appointment)).one())


def test_a_sync_in_a_child_process_imports_the_export_and_reports_back(
    engine: Engine, tmp_path: Path
) -> None:
    export = sample().write(tmp_path / "export", age=60)
    services = Services.open(_settings(engine, tmp_path, export), engine=engine)

    summary = services.sync_in_background(trigger="schedule")

    assert summary.ok, summary.text()
    assert (summary.inserted, summary.problems) == (3 + 2 + 5, 0)
    runs = _runs(engine)
    assert [r.id for r in runs] == [summary.run_id]
    assert runs[0].trigger == "schedule"
    assert runs[0].status == SyncRunStatus.OK.value
    assert _appointments(engine) == 5
    # The child's run is the same as one in this process: a second run changes nothing.
    again = services.sync_now(force=True)
    assert again.ok and not again.changed
    services.close_sync_worker()


def test_stopping_a_hung_child_exits_within_a_second_and_keeps_nothing(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """The export's appointments file is a FIFO nobody writes to (a hung network share):
    the child blocks reading it until it is told to stop."""
    export = _hung_export(tmp_path)
    services = Services.open(_settings(sqlite_engine, tmp_path, export), engine=sqlite_engine)
    stop = StopFlag()
    result: list[SyncSummary] = []
    worker = threading.Thread(
        target=lambda: result.append(services.sync_in_background(trigger="manual", stop=stop))
    )
    worker.start()
    _wait_for_a_run(sqlite_engine)
    time.sleep(0.2)

    began = time.monotonic()
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - began < 1.0
    assert result[0].status is SyncRunStatus.CANCELLED
    assert services._sync_worker is not None and services._sync_worker.child_pid is None
    assert _appointments(sqlite_engine) == 0
    last = _runs(sqlite_engine)[-1]
    assert last.status == SyncRunStatus.CANCELLED.value
    assert last.inserted == 0


def test_a_child_that_cannot_sync_is_a_failed_run_with_its_reason(tmp_path: Path) -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    worker = SyncWorker(Settings(data_dir=tmp_path, pms_export_dir=tmp_path), engine)
    summary = worker.run()
    worker.close()
    assert summary.status is SyncRunStatus.FAILED
    assert summary.run_id is None
    assert "the sync process ended with status 1" in summary.error
    # the end of what the child wrote: the one-line reason (linker_tui.common.outage)
    assert "postgresql+psycopg://nobody@127.0.0.1:1/none: connection refused" in summary.error


def test_a_killed_child_is_a_failed_run_and_its_run_is_closed(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """The child is killed by someone else (the OOM killer, an admin) while it hangs on
    the export: the run it had started is recorded as failed, not left "running"."""
    export = _hung_export(tmp_path)
    worker = SyncWorker(_settings(sqlite_engine, tmp_path, export), sqlite_engine)
    result: list[SyncSummary] = []
    runner = threading.Thread(target=lambda: result.append(worker.run(trigger="schedule")))
    runner.start()
    _wait_for_a_run(sqlite_engine)
    assert worker.child_pid is not None
    os.kill(worker.child_pid, signal.SIGKILL)
    runner.join(5)
    assert not runner.is_alive()
    worker.close()
    assert result[0].status is SyncRunStatus.FAILED
    assert "status -9" in result[0].error
    (run,) = _runs(sqlite_engine)
    assert run.status == SyncRunStatus.FAILED.value
    assert "status -9" in run.error and run.finished_at is not None
    assert _appointments(sqlite_engine) == 0
    assert not sync_status(sqlite_engine, datetime.now(UTC)).running


def test_one_child_at_a_time_a_second_run_is_skipped_or_waits(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    export = _hung_export(tmp_path)
    worker = SyncWorker(_settings(sqlite_engine, tmp_path, export), sqlite_engine)
    stop = StopFlag()
    first = threading.Thread(target=lambda: worker.run(stop=stop))
    first.start()
    _wait_for_a_run(sqlite_engine)

    skipped = worker.run(wait=False)
    assert skipped.status is SyncRunStatus.SKIPPED
    waiting_stop = StopFlag()
    waiting_stop.set()
    assert worker.run(wait=True, stop=waiting_stop).status is SyncRunStatus.CANCELLED
    stop.set()
    first.join(5)
    worker.close()
    assert len(_runs(sqlite_engine)) == 1  # neither started a child of its own


def test_each_run_has_its_own_child_and_none_waits_between_runs(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to do, no process: a child is started for a run and is gone after it."""
    started: list[subprocess.Popen[str]] = []

    def spawn() -> subprocess.Popen[str]:
        started.append(_spawn())
        return started[-1]

    monkeypatch.setattr(worker_module, "_spawn", spawn)
    export = sample().write(tmp_path / "export", age=60)
    worker = SyncWorker(_settings(sqlite_engine, tmp_path, export), sqlite_engine)
    first = worker.run(trigger="schedule")
    assert first.ok and first.inserted == 10
    assert len(started) == 1 and started[0].poll() == 0  # it ran, and ended
    assert worker.child_pid is None
    second = worker.run(trigger="schedule", force=True)
    assert second.ok and not second.changed
    assert len(started) == 2 and started[1].poll() == 0
    assert started[0].pid != started[1].pid
    worker.close()
    assert len(started) == 2  # closing starts nothing


def test_a_child_whose_app_went_away_exits() -> None:
    """The app died before sending the request: the child reads end-of-input and exits,
    quietly."""
    child = _spawn()
    out, err = child.communicate("", timeout=30)
    assert (child.returncode, out, err) == (0, "", "")


def test_the_in_process_setting_syncs_in_this_process(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    export = sample().write(tmp_path / "export", age=60)
    services = Services.open(
        _settings(sqlite_engine, tmp_path, export, sync_in_subprocess=False), engine=sqlite_engine
    )
    summary = services.sync_in_background(trigger="schedule")
    assert summary.ok and summary.inserted == 10
    assert services._sync_worker is None  # no child process was started
    assert _appointments(sqlite_engine) == 5


def test_the_summary_line_round_trips() -> None:
    summary = SyncSummary(
        7,
        SyncRunStatus.OK,
        "schedule",
        datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 14, 0, 3, tzinfo=UTC),
        rows_seen=10,
        inserted=2,
        note="a note; with «text» and Zoë",
        detail={"appointments_seen": 5},
    )
    output = "some log line\n" + summary_line(summary) + "\n"
    assert parse_summary(output) == summary
    assert parse_summary("no summary here\n") is None
    assert parse_summary(summary_line(summary)[:-5]) is None


@pytest.mark.parametrize("field", ["smtp_password"])
def test_secrets_do_not_travel_to_the_child(field: str, tmp_path: Path) -> None:
    from linker_tui.sync.worker import settings_payload

    settings = Settings(data_dir=tmp_path, smtp_password="hunter2")  # type: ignore[arg-type]
    assert field not in settings_payload(settings)
    assert "hunter2" not in str(settings_payload(settings))
