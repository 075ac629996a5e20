"""The outbox's file backend, the CLI's demo build, and the core's independence of Textual."""

from __future__ import annotations

import email
import subprocess
import sys
from email import policy
from pathlib import Path

from sqlalchemy.engine import Engine

from linker_tui.common.clock import FixedClock
from linker_tui.mail.outbox import FileMailer, deliver_queued
from linker_tui.store.db import read_session
from linker_tui.store.models import EmailOutbox
from tests.builders import (
    NOW,
    add_appointment,
    add_patient,
    add_provider,
    add_request,
    empty_config,
    local,
)
from tests.conftest import make_workflow


def test_queued_email_is_written_as_eml_with_the_scheduled_time(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    doc = add_provider(sqlite_engine, "DOC1", "Amelia", "Chen")
    pid = add_patient(sqlite_engine, "Zoë", "Lefèvre", email="zoe@example.com")
    aid = add_appointment(sqlite_engine, pid, doc, local(2026, 12, 10, 14, 0))
    rid = add_request(sqlite_engine, "Zoë", "Lefèvre", local(2026, 12, 3, 9, 30), patient_id=pid)
    result = make_workflow(sqlite_engine).link(rid, aid, expected_version=1, send_email=True)
    report = deliver_queued(
        sqlite_engine, FileMailer(tmp_path / "out"), FixedClock(NOW), "desk@example.com", "MGD"
    )
    assert (report.sent, report.failed) == (1, 0)
    (path,) = (tmp_path / "out").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "Zoë Lefèvre <zoe@example.com>"
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Thursday, December 10, 2026 at 2:00 PM" in body
    with read_session(sqlite_engine) as s:
        row = s.get(EmailOutbox, result.outbox_id)
        assert row is not None and row.status == "sent" and row.message_id == message["Message-ID"]
    again = deliver_queued(
        sqlite_engine, FileMailer(tmp_path / "out"), FixedClock(NOW), "desk@example.com"
    )
    assert again.sent == 0


def test_core_never_imports_textual() -> None:
    code = (
        "import sys, pkgutil, importlib, linker_tui\n"
        "for m in pkgutil.walk_packages(linker_tui.__path__, 'linker_tui.'):\n"
        # migrations.env is an Alembic script, run by Alembic, not an importable module
        "    if not m.name.startswith(('linker_tui.tui', 'linker_tui.store.migrations.env')):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'textual' or n.startswith('textual.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_demo_command_builds_the_database(tmp_path: Path) -> None:
    env = {"LINKER_DATA_DIR": str(tmp_path), "LINKER_CONFIG": str(empty_config(tmp_path))}
    done = subprocess.run(
        [sys.executable, "-m", "linker_tui.cli.main", "demo", "--no-tui"],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "300" in done.stdout or "patients" in done.stdout
    assert (tmp_path / "demo" / "demo.db").exists()
    assert done.stderr == ""  # the shipped demo data has no bad rows
