"""``linker-tui sync`` on a read-only file system, a full disk, a locked database, and
after a killed sync: one clear line and an exit status, never a traceback; no run left
``running`` (issue 13)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.store.db import make_engine, read_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import SyncRun
from linker_tui.store.schema import create_schema
from linker_tui.sync.control import StopFlag
from linker_tui.sync.csv_folder import CsvFolderConnector
from tests.builders import TZ
from tests.sync_support import make_sync, sample

ROOT = Path(__file__).resolve().parent.parent


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKER_")}
    env["LINKER_CONFIG"] = str(ROOT / ".ci" / "no-config.toml")
    env["LINKER_PRACTICE_TIMEZONE"] = TZ.key
    env.update({f"LINKER_{k.upper()}": v for k, v in settings.items()})
    return env


def _sync_command(env: Mapping[str, str], *prefix: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "linker_tui.cli.main", "sync"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr


def _locker(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another program holding SQLite's write lock for ``seconds``."""
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        "c.execute('COMMIT')\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child


def _current_db(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    return url


def test_a_database_locked_by_another_program(tmp_path: Path) -> None:
    url = _current_db(tmp_path / "linker.db")
    locker = _locker(tmp_path / "linker.db", 30)
    try:
        result = _sync_command(
            _env(database_url=f"{url}?timeout=0.3", data_dir=str(tmp_path), inbox_dir="")
        )
    finally:
        locker.kill()
        locker.wait()
    # at start a locked file is the database being unavailable (linker_tui.common.outage): 69
    assert result.returncode == 69
    _one_clear_line(result, "the file stays locked by another program")


class _LockedMeanwhile:
    """A connector that, once the run has started, has another program take the write
    lock for a moment (the PMS step then finds the database locked)."""

    def __init__(self, inner: CsvFolderConnector, db: Path) -> None:
        self.inner = inner
        self.db = db
        self.locker: subprocess.Popen[str] | None = None

    @property
    def source(self) -> str:
        return self.inner.source

    def cursor(self, stop: StopFlag) -> str:
        return self.inner.cursor(stop)

    def changes(self, state: MutableMapping[str, bytes], stop: StopFlag) -> object:
        self.locker = _locker(self.db, 1.5)
        return self.inner.changes(state, stop)


def test_a_lock_during_the_run_is_recorded_as_a_failed_run(tmp_path: Path) -> None:
    url = _current_db(tmp_path / "linker.db")
    engine = make_engine(f"{url}?timeout=0.2")
    sync = make_sync(engine, sample().write(tmp_path / "export"))
    assert isinstance(sync.connector, CsvFolderConnector)
    connector = _LockedMeanwhile(sync.connector, tmp_path / "linker.db")
    sync.connector = connector  # type: ignore[assignment]
    summary = sync.run()
    assert connector.locker is not None
    connector.locker.wait()
    locked = "the file stays locked by another program"  # linker_tui.common.outage's wording
    assert summary.status is SyncRunStatus.FAILED and locked in summary.error
    with read_session(engine) as s:
        run = s.exec(select(SyncRun)).one()
    assert run.status == "failed" and locked in run.error
    engine.dispose()


def _unshare_works() -> bool:
    if shutil.which("unshare") is None or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _unshare_works(), reason="needs unshare and mount (a private mount namespace)"
)


@needs_mounts
def test_a_read_only_file_system(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    env = _env(data_dir=str(folder / "data"), pms_export_dir=str(sample().write(tmp_path / "x")))
    mount = f'mount -t tmpfs -o ro tmpfs {folder} && exec "$@"'
    result = _sync_command(env, "unshare", "-rm", "sh", "-c", mount, "-")
    # the database file cannot be made: the database is unavailable (linker_tui.common.outage): 69
    assert result.returncode == 69, result.stderr
    _one_clear_line(result, "cannot open the database file")


@needs_mounts
@pytest.mark.parametrize("size", ["40k", "400k"])  # full making the schema, or importing
def test_a_full_disk(tmp_path: Path, size: str) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    data = sample()
    data.appointments = [
        [f"A{i}", "1001", "DOC1", "2026-12-03T09:30", "60", "OP1", "x" * 200, "scheduled", ""]
        for i in range(5_000)
    ]
    env = _env(data_dir=str(folder), pms_export_dir=str(data.write(tmp_path / "x")))
    mount = f'mount -t tmpfs -o size={size} tmpfs {folder} && exec "$@"'
    result = _sync_command(env, "unshare", "-rm", "sh", "-c", mount, "-")
    assert result.returncode in (1, 74), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "full" in result.stderr.splitlines()[0]


def _running_runs(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [
            r for (r,) in conn.execute(sa.text("SELECT id FROM sync_run WHERE status = 'running'"))
        ]


def _killed_session_gone(engine: Engine, timeout: float = 15.0) -> None:
    """PostgreSQL ends a killed client's session, and frees the sync's advisory lock it
    held, once it notices the closed connection: not at once on a busy machine. Until
    then the next run is rightly skipped ("another workstation is syncing")."""
    if engine.dialect.name != "postgresql":
        return
    held = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            if not conn.execute(held).scalar():
                return
        assert time.monotonic() < deadline, "the killed sync's session still holds its lock"
        time.sleep(0.05)


def test_the_next_run_closes_the_run_of_a_killed_sync(engine: Engine, tmp_path: Path) -> None:
    """A ``linker-tui sync`` killed with SIGKILL mid-run (reading a FIFO that never
    delivers): the next run records its end."""
    export = sample().write(tmp_path / "export")
    (export / "providers.csv").unlink()
    os.mkfifo(export / "providers.csv")  # reading it waits for a writer: for ever
    url = engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-m", "linker_tui.cli.main", "sync"],
        env=_env(database_url=url, pms_export_dir=str(export), data_dir=str(tmp_path)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _running_runs(engine):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    killed = _running_runs(engine)
    assert len(killed) == 1
    _killed_session_gone(engine)
    (export / "providers.csv").unlink()
    sample().write(export)
    summary = make_sync(engine, export).run()
    assert summary.ok
    with read_session(engine) as s:
        run = s.get(SyncRun, killed[0])
    assert run is not None and run.status == "failed" and run.finished_at is not None
    assert "its process is gone" in run.error or "sync lock" in run.error
    assert _running_runs(engine) == []
