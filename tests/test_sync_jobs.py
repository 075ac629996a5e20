"""The sync on the scheduler, stopping, I/O timeouts, ``Services.sync_now``, the CLI, the
settings, and the demo through the sync."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import func, select

import linker_tui.sync.appointment_writer as appointment_writer
import linker_tui.sync.engine as sync_engine
import linker_tui.sync.writers as writers
from linker_tui.cli.main import main
from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.demo import build_demo, demo_data_dir, read_practice, week_shift
from linker_tui.scheduler import SYNC_JOB, JobScheduler, add_sync_job
from linker_tui.services import Services
from linker_tui.settings.config import Settings
from linker_tui.store.db import make_engine, read_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import Appointment
from linker_tui.store.schema import create_schema
from linker_tui.sync.control import StopFlag, SyncCancelled, SyncTimeout, run_io
from linker_tui.sync.queries import latest_runs
from linker_tui.sync.summary import SyncFailed, SyncSummary
from tests.builders import NOW, empty_config
from tests.sync_support import appointment, sample, snapshot


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("LINKER_CONFIG", str(empty_config(tmp_path)))
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    for name in ("LINKER_DATABASE_URL", "LINKER_PMS_EXPORT_DIR", "LINKER_INBOX_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _services(engine: Engine, tmp_path: Path, **settings: Any) -> Services:
    base = Settings(
        data_dir=tmp_path / "data",
        practice_timezone="America/Toronto",
        pms_export_dir=tmp_path / "export",
        inbox_dir=tmp_path / "inbox",
        sync_in_subprocess=False,  # in this process: the fixed clock, the patched engine
    )
    return Services.open(
        base.with_overrides(**settings),
        engine=engine,
        clock=FixedClock(NOW),
        actor=Actor("bob", "desk-2"),
    )


# ------------------------------------------------------------------ scheduler


def test_the_scheduled_job_syncs_and_reports(no_config: Path, engine: Engine) -> None:
    sample().write(no_config / "export")
    services = _services(engine, no_config, sync_interval_minutes=5)
    results: list[tuple[str, SyncSummary]] = []
    done = threading.Event()

    def on_result(name: str, summary: SyncSummary) -> None:
        results.append((name, summary))
        done.set()

    jobs = JobScheduler()
    add_sync_job(jobs, services, on_result, lambda name, exc: results.append((name, exc)))  # type: ignore[arg-type]
    assert SYNC_JOB in jobs.job_names()
    with jobs:
        assert done.wait(10)
    ((name, summary),) = results
    assert name == SYNC_JOB and summary.ok and summary.trigger == "schedule"
    assert summary.inserted == 10
    status = services.sync_status()
    assert status.last_success is not None and status.last_success.run_id == summary.run_id
    assert not status.running


def test_a_failing_sync_is_recorded_and_reported_to_on_error(
    no_config: Path, engine: Engine
) -> None:
    services = _services(engine, no_config)  # the export folder does not exist
    errors: list[tuple[str, BaseException]] = []
    failed = threading.Event()

    def on_error(name: str, exc: BaseException) -> None:
        errors.append((name, exc))
        failed.set()

    jobs = JobScheduler()
    add_sync_job(jobs, services, on_error=on_error)
    with jobs:
        assert failed.wait(10)
    ((name, exc),) = errors
    assert name == SYNC_JOB and isinstance(exc, SyncFailed)
    assert exc.summary.status is SyncRunStatus.FAILED and "does not exist" in str(exc)
    (run,) = latest_runs(engine, 5)
    assert run.status is SyncRunStatus.FAILED and "does not exist" in run.error
    assert services.sync_status().failing


def test_quitting_during_a_sync_stops_it_within_a_second(
    no_config: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sample()
    data.write(no_config / "export")
    services = _services(engine, no_config)
    services.sync_now()
    before = snapshot(engine)
    data.appointments.append(appointment("A6", "1003", "2026-12-11T08:00"))
    data.write(no_config / "export")
    writing = threading.Event()
    real = appointment_writer.write_appointments  # as the engine calls it

    def slow(db: Any, table: Any, *watched: Any) -> Any:
        result = real(db, table, *watched)
        writing.set()
        while True:  # a long write: a million rows, chunk after chunk
            db.stop.check()
            time.sleep(0.01)
        return result

    monkeypatch.setattr(sync_engine, "write_appointments", slow)
    finished = threading.Event()
    outcome: list[SyncSummary] = []

    def on_result(_name: str, summary: SyncSummary) -> None:
        outcome.append(summary)
        finished.set()

    jobs = JobScheduler()
    add_sync_job(jobs, services, on_result)
    jobs.start()
    assert writing.wait(10)
    began = time.monotonic()
    jobs.shutdown()
    assert time.monotonic() - began < 0.5  # shutdown does not wait
    assert finished.wait(1.0)  # the job is over within a second
    assert outcome[0].status is SyncRunStatus.CANCELLED
    assert snapshot(engine) == before
    assert latest_runs(engine, 1)[0].status is SyncRunStatus.CANCELLED


def test_file_io_has_a_timeout_and_stops(no_config: Path) -> None:
    stop = StopFlag()
    hang = threading.Event()
    began = time.monotonic()
    with pytest.raises(SyncTimeout, match=r"reading the share: no answer within 0\.2 s"):
        run_io(lambda: hang.wait(5), 0.2, stop, "reading the share")
    assert time.monotonic() - began < 1
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(SyncCancelled):
        run_io(lambda: hang.wait(5), 10, stop, "reading the share")
    hang.set()
    assert run_io(lambda: 42, 1, StopFlag(), "x") == 42
    with pytest.raises(ZeroDivisionError):
        run_io(lambda: 1 / 0, 1, StopFlag(), "x")


def test_one_sync_at_a_time_in_a_process(
    no_config: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample().write(no_config / "export")
    services = _services(engine, no_config)
    inside, release = threading.Event(), threading.Event()
    real = writers.write_providers  # as the engine calls it

    def held(db: Any, table: Any) -> Any:
        inside.set()
        release.wait(5)
        return real(db, table)

    monkeypatch.setattr(sync_engine, "write_providers", held)
    first: list[SyncSummary] = []
    worker = threading.Thread(target=lambda: first.append(services.sync_now()))
    worker.start()
    assert inside.wait(5)
    assert services.sync.busy
    skipped = services.sync_now(wait=False)
    assert skipped.status is SyncRunStatus.SKIPPED and skipped.run_id is None
    release.set()
    worker.join(5)
    assert first[0].ok and not services.sync.busy


# ------------------------------------------------------------------ CLI and settings


def test_sync_command(
    no_config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sample().write(no_config / "export")
    with (no_config / "export" / "appointments.csv").open("a", encoding="utf-8") as handle:
        handle.write("B1,1001,DOC1,someday,60,OP1,x,scheduled,\n")
    monkeypatch.setenv("LINKER_DATABASE_URL", f"sqlite:///{no_config / 'cli.db'}")
    monkeypatch.setenv("LINKER_PMS_EXPORT_DIR", str(no_config / "export"))
    monkeypatch.setenv("LINKER_INBOX_DIR", str(no_config / "inbox"))
    assert main(["db", "upgrade"]) == 0  # a configured database: the admin creates it
    capsys.readouterr()
    assert main(["sync"]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "10 new" in out and "1 problem" in out
    assert "pms: appointments.csv:7: start 'someday' is not an ISO 8601 date-time" in out
    assert main(["sync", "--force"]) == 0
    assert "0 new, 0 changed" in capsys.readouterr().out
    assert main(["sync", "--runs", "5"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and all(" cli " in line for line in listed)
    monkeypatch.setenv("LINKER_PMS_EXPORT_DIR", str(no_config / "nowhere"))
    assert main(["sync"]) == 1
    captured = capsys.readouterr()
    assert "failed" in captured.err and "does not exist" in captured.err


def test_status_map_setting_is_checked(no_config: Path) -> None:
    assert Settings(pms_status_map={"Tentative": "scheduled", "Note": "ignore"})
    with pytest.raises(ValidationError, match="unknown target status"):
        Settings(pms_status_map={"Tentative": "maybe"})
    assert Settings().effective_inbox_dir == no_config / "data" / "inbox"
    assert Settings().sync_interval_minutes == 2


def test_stale_after_defaults_to_three_intervals_and_can_be_set(
    no_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().sync_stale_after == timedelta(minutes=6)
    assert Settings(sync_interval_minutes=10).sync_stale_after == timedelta(minutes=30)
    monkeypatch.setenv("LINKER_SYNC_STALE_MINUTES", "45")
    assert Settings().sync_stale_after == timedelta(minutes=45)
    assert Settings().sync_in_subprocess is True
    assert Settings().live_refresh_seconds == 5
    with pytest.raises(ValidationError):
        Settings(sync_stale_minutes=0)


# ------------------------------------------------------------------ demo


def test_the_demo_runs_through_the_sync_and_the_app_sync_agrees(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    create_schema(engine)
    folder = demo_data_dir()
    today = date(2027, 1, 8)
    report = build_demo(engine, folder, today, inbox_dir=tmp_path / "inbox")
    assert report.problems == [] and report.requests >= 30 and report.appointments >= 2000
    assert len(list((tmp_path / "inbox" / "processed").glob("*.json"))) == report.requests
    practice = read_practice(folder)
    settings = Settings(
        data_dir=tmp_path,
        practice_timezone=practice.timezone,
        pms_export_dir=folder,
        inbox_dir=tmp_path / "inbox",
        demo_shift_days=week_shift(practice.export_date, today).days,
    )
    services = Services.open(settings, engine=engine)
    again = services.sync_now(force=True)
    assert again.ok and (again.inserted, again.updated, again.cancelled) == (0, 0, 0)
    with read_session(engine) as s:
        assert s.exec(select(func.count()).select_from(Appointment)).one() == report.appointments
    engine.dispose()


def test_a_job_added_before_the_start_runs_at_the_start_then_every_interval() -> None:
    """Jobs are added, then the scheduler starts a moment later (the app's set-up, three
    desks in the lease test): the first run is at the start and the next a whole interval
    later, not a late first run followed at once by the one due since ``add_job``."""
    from linker_tui.scheduler import JobScheduler

    runs: list[float] = []
    scheduler = JobScheduler(max_workers=1)
    scheduler.add_job("tick", lambda: runs.append(time.monotonic()), 0.4)
    time.sleep(0.3)  # set-up between add_job and start
    started = time.monotonic()
    scheduler.start()
    time.sleep(1.0)
    scheduler.shutdown(wait=True)
    assert len(runs) >= 2
    assert runs[0] - started < 0.2
    assert runs[1] - runs[0] > 0.3
