"""``linker-tui audit`` exports the trail (what the desk role may not do to it:
``tests/test_trail_postgres.py``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from linker_tui.cli.main import main
from tests.builders import TZ, add_request, empty_config, local
from tests.conftest import decision_day, make_workflow


def _decide(engine: Engine) -> int:
    rid = add_request(engine, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
    make_workflow(engine).defer(rid, expected_version=1)
    make_workflow(engine, "bob", "desk-2").reject(rid, "No availability", expected_version=2)
    return rid


@pytest.fixture
def cli_env(engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Engine:
    monkeypatch.setenv("LINKER_CONFIG", str(empty_config(tmp_path)))
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LINKER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("LINKER_PRACTICE_TIMEZONE", TZ.key)
    return engine


def test_audit_command_exports_a_date_range(
    cli_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    _decide(cli_env)
    today = decision_day(cli_env)
    day = ["--since", today.isoformat(), "--until", today.isoformat()]
    assert main(["audit", *day, "--format", "json"]) == 0
    captured = capsys.readouterr()
    events = json.loads(captured.out)
    assert [(e["action"], e["desk_user"], e["os_user"], e["workstation"]) for e in events] == [
        ("defer", "alice", "alice", "desk-1"),
        ("reject", "bob", "bob", "desk-2"),
    ]
    on_server = cli_env.dialect.name == "postgresql"  # the database's record, or none
    assert all(bool(e["db_user"]) == on_server for e in events)
    assert all(e["desk_at"].startswith("2026-11-27T14:00:00") for e in events)  # the desk's
    assert events[1]["detail"] == "No availability"
    assert "2 audit event(s)" in captured.err

    assert main(["audit", *day, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["action"] for r in rows] == ["defer", "reject"]
    assert rows[0]["request"].startswith("REQ-")

    assert (
        main(["audit", "--since", (today + timedelta(days=1)).isoformat(), "--format", "json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == []
    assert main(["audit", "--until", (today - timedelta(days=1)).isoformat()]) == 0
    assert capsys.readouterr().out.strip() == ",".join(
        [
            *("id", "at", "db_user", "application_name", "desk_user", "os_user", "workstation"),
            *("desk_at", "action", "request", "before", "after", "detail"),
        ]
    )
