"""The command line for scripts and support: --version, a closed pipe, wrong date ranges,
sync without a PMS source, a fresh SQLite file, and the log file it leaves."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from linker_tui import __version__
from linker_tui.cli.main import main
from linker_tui.logs import LogFileFormatter
from linker_tui.settings.config import Settings
from linker_tui.store.db import make_engine
from linker_tui.store.models import AuditEvent
from tests.builders import NOW, empty_config

SECRET = "pa55-w0rd-xyz"


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINKER_CONFIG", str(empty_config(tmp_path)))
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    for name in ("LINKER_DATABASE_URL", "LINKER_PMS_EXPORT_DIR", "LINKER_INBOX_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"linker-tui {__version__}\n"


def test_since_after_until_is_an_error(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--since", "2026-12-05", "--until", "2026-12-01"]) == 2
    assert "--since 2026-12-05 is after --until 2026-12-01" in capsys.readouterr().err
    assert main(["audit", "--since", "2026-12-01", "--until", "2026-12-01"]) == 0


def test_audit_json_into_a_closed_pipe_ends_quietly(desk: Path) -> None:
    engine = make_engine(f"sqlite:///{desk / 'data' / 'linker.db'}")
    assert main(["db", "status"]) == 0
    subprocess.run([sys.executable, "-m", "linker_tui.cli.main", "sync", "--runs", "1"], check=True)
    rows = [
        {"at": NOW + timedelta(seconds=i), "os_user": "alice", "workstation": "desk-1",
         "action": "note", "before": "{}", "after": "{}", "detail": "x" * 200}
        for i in range(2_000)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(AuditEvent), rows)
    engine.dispose()
    command = f"{sys.executable} -m linker_tui.cli.main audit --format json | head -n 3"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
    assert len(done.stdout.splitlines()) == 3
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_sync_without_a_pms_source_fails(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert "no PMS source is configured" in err and "only the request inbox was read" in err


def test_db_status_and_sync_agree_on_a_fresh_sqlite_file(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "schema (none)" in out and "created or upgraded when the app or sync next starts" in out
    export = desk / "export"
    export.mkdir()
    monkeypatch.setenv("LINKER_PMS_EXPORT_DIR", str(export))
    main(["sync"])
    capsys.readouterr()
    assert main(["db", "status"]) == 0
    assert "(none)" not in capsys.readouterr().out
    configured = f"sqlite:///{desk / 'configured.db'}"  # a configured database: the admin's
    monkeypatch.setenv("LINKER_DATABASE_URL", configured)
    assert main(["db", "status"]) == 2
    assert main(["sync"]) == 2
    assert "linker-tui db upgrade" in capsys.readouterr().err


def test_the_log_file_tells_the_story_without_secrets(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = desk / "logs" / "desk.log"
    monkeypatch.setenv("LINKER_LOG_FILE", str(log))
    monkeypatch.setenv("LINKER_SMTP_PASSWORD", SECRET)
    assert main(["demo", "--no-tui"]) == 0
    demo_db = desk / "data" / "demo" / "demo.db"
    monkeypatch.setenv("LINKER_DATABASE_URL", f"sqlite:///{demo_db}")
    monkeypatch.setenv("LINKER_PRACTICE_TIMEZONE", "America/Toronto")
    from sqlmodel import select

    from linker_tui.services import Services
    from linker_tui.store.db import read_session
    from linker_tui.store.models import OnlineRequest

    services = Services.open(Settings())
    with read_session(services.engine) as session:
        request = session.exec(select(OnlineRequest).limit(1)).one()
    assert request.id is not None
    services.workflow.reject(request.id, "Dr. Secret Reason", expected_version=request.version)
    text = log.read_text(encoding="utf-8")
    assert "linker-tui demo started" in text and "sync #1 ok" in text
    assert f"request {request.external_id} (id {request.id}): reject -> rejected by" in text
    assert request.typed_last_name not in text and "Secret Reason" not in text
    assert SECRET not in text


def test_the_formatter_cleans_and_masks() -> None:
    import logging

    formatter = LogFileFormatter([SECRET])
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "name \x1b[31mred\x1b]0;title\x07 %s %s",
        (SECRET, "postgresql://u:pw@h/db"),
        None,
    )
    line = formatter.format(record)
    assert "\x1b" not in line and "\x07" not in line
    assert SECRET not in line and "********" in line and ":pw@" not in line
    assert os.linesep not in line.strip()


def test_the_app_log_keeper_and_the_log_file_hold_the_same_records(desk: Path) -> None:
    import logging

    from linker_tui.logs import setup_logging
    from linker_tui.tui.jobs import LogKeeper

    log = desk / "app.log"
    setup_logging(Settings(log_file=log), command="test")
    keeper = LogKeeper()
    keeper.install()
    try:
        logging.getLogger("linker_tui.sync.engine").info("sync #7 ok in 0.1 s")
    finally:
        keeper.uninstall()
    assert [r.getMessage() for r in keeper.records] == ["sync #7 ok in 0.1 s"]
    assert log.read_text(encoding="utf-8").count("sync #7 ok in 0.1 s") == 1
