"""The audit trail on a shared database: the application's own (non-owner) PostgreSQL
role cannot change or remove audit events, and ``linker-tui audit`` exports them."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from linker_tui.cli import main
from linker_tui.db import make_engine
from tests.builders import TZ, add_request, local
from tests.conftest import POSTGRES_URL, make_workflow

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="LINKER_TEST_POSTGRES_URL is not set")


def _decide(engine: Engine) -> int:
    rid = add_request(engine, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
    make_workflow(engine).defer(rid, expected_version=1)
    make_workflow(engine, "bob", "desk-2").reject(rid, "No availability", expected_version=2)
    return rid


@pytest.fixture
def app_role(engine: Engine) -> Iterator[Engine]:
    """An engine logged in as a role like the desks': it may read and write the tables
    (no TRUNCATE), but does not own them (the owner, the admin, runs the migrations)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    role = f"linker_app_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'desk'")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
        conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    url = make_url(POSTGRES_URL).set(username=role, password="desk")
    desk = make_engine(url.render_as_string(hide_password=False))
    try:
        yield desk
    finally:
        desk.dispose()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


@pytest.mark.postgres
@needs_postgres
def test_the_application_role_cannot_change_the_audit_trail(
    engine: Engine, app_role: Engine
) -> None:
    _decide(app_role)  # the desks' role writes decisions, and their audit events
    with app_role.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_event")).scalar_one() == 2
    refused = {
        "UPDATE audit_event SET detail = 'forged'": "append-only",
        "DELETE FROM audit_event": "append-only",
        "TRUNCATE audit_event": "permission denied",
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change": "must be owner",
        "DROP TRIGGER audit_event_no_change ON audit_event": "must be owner",
    }
    for statement, why in refused.items():
        with pytest.raises(DBAPIError, match=why), app_role.begin() as conn:
            conn.exec_driver_sql(statement)
    # not even the owner can truncate it without dropping the guard first
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE audit_event CASCADE")
    with app_role.connect() as conn:
        details = conn.execute(sa.text("SELECT detail FROM audit_event ORDER BY id")).scalars()
        assert "forged" not in list(details)


@pytest.fixture
def cli_env(engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Engine:
    monkeypatch.setenv("LINKER_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LINKER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("LINKER_PRACTICE_TIMEZONE", TZ.key)
    return engine


def test_audit_command_exports_a_date_range(
    cli_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    _decide(cli_env)
    day = ["--since", "2026-11-27", "--until", "2026-11-27"]
    assert main(["audit", *day, "--format", "json"]) == 0
    captured = capsys.readouterr()
    events = json.loads(captured.out)
    assert [(e["action"], e["os_user"], e["workstation"]) for e in events] == [
        ("defer", "alice", "desk-1"),
        ("reject", "bob", "desk-2"),
    ]
    assert events[1]["detail"] == "No availability"
    assert "2 audit event(s)" in captured.err

    assert main(["audit", *day, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["action"] for r in rows] == ["defer", "reject"]
    assert rows[0]["request"].startswith("REQ-")

    assert main(["audit", "--since", "2026-11-28", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["audit", "--until", "2026-11-26"]) == 0
    assert capsys.readouterr().out.strip() == ",".join(
        ("id", "at", "os_user", "workstation", "action", "request", "before", "after", "detail")
    )
