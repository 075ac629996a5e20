"""``linker-tui doctor`` passes on the demo and names the cause when something is missing:
the database, the export folder, the SMTP server (real aiosmtpd), a grant (real PostgreSQL)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from linker_tui.cli.main import main
from linker_tui.store import schema
from linker_tui.store.db import make_engine
from linker_tui.store.schema import drop_schema
from tests.builders import empty_config
from tests.conftest import POSTGRES_URL
from tests.mail_support import free_port, login_checker, smtp_server
from tests.open_dental_support import needs_mariadb, open_dental_database

SECRET = "s3cret-Pa55"


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A desk with its own folders, an empty settings file and a PMS export folder."""
    monkeypatch.setenv("LINKER_CONFIG", str(empty_config(tmp_path)))
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    for name in list(os.environ):
        keep = name in ("LINKER_CONFIG", "LINKER_DATA_DIR")
        if (
            name.startswith("LINKER_")
            and not keep
            and not name.startswith(("LINKER_TEST_", "LINKER_LOG_"))
        ):
            monkeypatch.delenv(name)
    export = tmp_path / "export"
    export.mkdir()
    (export / "patients.csv").write_text("patient_id\n")
    (tmp_path / "data" / "inbox").mkdir(parents=True)
    monkeypatch.setenv("LINKER_PMS_EXPORT_DIR", str(export))
    monkeypatch.setenv("LINKER_PRACTICE_EMAIL", "reception@maplegrove.example.com")
    return tmp_path


def _doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = main(["doctor", "--json", *argv])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status, report


def _find(report: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    found = [f for f in report["findings"] if f["section"] == section and f["name"] == name]
    assert found, (section, name, report["findings"])
    finding: dict[str, Any] = found[-1]
    return finding


def test_doctor_passes_on_the_demo(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-tui"]) == 0
    capsys.readouterr()
    assert main(["doctor", "--demo"]) == 0
    text = capsys.readouterr().out
    for heading in ("linker-tui", "settings", "database", "PMS source and sync", "request inbox",
                    "mail", "shared jobs (leases)", "terminal", "log file"):  # fmt: skip
        assert f"\n{heading}\n" in f"\n{text}", heading
    assert "mail is not sent: mail_backend = file" in text
    assert "pms_export_dir: " in text and "[the demo]" in text
    assert text.rstrip().endswith("warning(s)") and "no problems" in text


def test_the_database_away_is_named(desk: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    port = free_port()
    url = f"postgresql+psycopg://desk:{SECRET}@127.0.0.1:{port}/linker"
    monkeypatch.setenv("LINKER_DATABASE_URL", url)
    status, report = _doctor(capsys)
    assert status == 1 and report["status"] == "fail"
    reachable = _find(report, "database", "reachable")
    assert (
        reachable["level"] == "fail" and "127.0.0.1" in reachable["detail"]
    ) or "connect" in reachable["detail"]
    assert "database server running" in reachable["hint"]
    assert SECRET not in json.dumps(report)


def test_a_missing_export_folder_is_named(desk: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("LINKER_PMS_EXPORT_DIR", str(desk / "nowhere"))
    status, report = _doctor(capsys)
    assert status == 1
    finding = _find(report, "PMS source and sync", "export folder")
    assert finding["level"] == "fail" and "nowhere does not exist" in finding["detail"]
    monkeypatch.delenv("LINKER_PMS_EXPORT_DIR")
    status, report = _doctor(capsys)
    assert status == 1
    assert "no PMS source is configured" in _find(report, "PMS source and sync", "source")["detail"]


def test_smtp_connect_ehlo_login_without_sending(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKER_MAIL_BACKEND", "smtp")
    monkeypatch.setenv("LINKER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LINKER_SMTP_SECURITY", "none")
    monkeypatch.setenv("LINKER_SMTP_USERNAME", "desk")
    monkeypatch.setenv("LINKER_SMTP_PASSWORD", SECRET)
    with smtp_server(authenticator=login_checker("desk", SECRET), auth_require_tls=False) as server:
        monkeypatch.setenv("LINKER_SMTP_PORT", str(server.port))
        status, report = _doctor(capsys)
        assert status == 0, [f for f in report["findings"] if f["level"] == "fail"]
        for step in ("connect", "EHLO", "login"):
            assert _find(report, "mail", step)["level"] == "ok"
        assert server.handler.accepted == []  # nothing was sent
        monkeypatch.setenv("LINKER_SMTP_PASSWORD", "wrong")
        status, report = _doctor(capsys)
        assert status == 1 and _find(report, "mail", "login")["level"] == "fail"
    status, report = _doctor(capsys)  # the server is gone
    finding = _find(report, "mail", "connect")
    assert status == 1 and finding["level"] == "fail" and "SMTP server up" in finding["hint"]
    assert SECRET not in json.dumps(report)


@pytest.fixture
def restricted_role() -> Iterator[tuple[str, str]]:
    """A desk role of our own on the test PostgreSQL, granted by the migrations as
    ``db upgrade`` grants it, less DELETE on job_lease; dropped after."""
    if not POSTGRES_URL:
        pytest.skip("LINKER_TEST_POSTGRES_URL is not set")
    admin = make_engine(POSTGRES_URL)
    role = f"doctor_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    drop_schema(admin)
    schema.upgrade(admin, role)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"REVOKE DELETE ON job_lease FROM {role}")
    url = make_url(POSTGRES_URL).set(username=role).render_as_string(hide_password=False)
    try:
        yield role, url
    finally:
        drop_schema(admin)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


@pytest.mark.postgres
def test_a_missing_grant_is_named(
    desk: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restricted_role: tuple[str, str],
) -> None:
    role, url = restricted_role
    monkeypatch.setenv("LINKER_DATABASE_URL", url)
    status, report = _doctor(capsys)
    grants = _find(report, "database", "grants")
    assert status == 1 and grants["level"] == "fail"
    assert grants["detail"] == f"role {role} lacks DELETE on job_lease"
    assert "db upgrade" in grants["hint"]
    assert _find(report, "database", "clock")["level"] == "ok"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"GRANT DELETE ON job_lease TO {role}")
    admin.dispose()
    status, report = _doctor(capsys)
    assert _find(report, "database", "grants")["level"] == "ok", report
    assert status == 0, [f for f in report["findings"] if f["level"] == "fail"]
    with admin.begin() as conn:  # more than a desk should: change requests behind the trail
        conn.exec_driver_sql(f"GRANT UPDATE ON online_request TO {role}")
    admin.dispose()
    status, report = _doctor(capsys)
    assert status == 0 and any(
        f["name"] == "grants" and f["level"] == "warn" and "UPDATE on online_request" in f["detail"]
        for f in report["findings"]
    )
    monkeypatch.setenv("LINKER_DATABASE_URL", POSTGRES_URL)  # the superuser: too much
    _, report = _doctor(capsys)
    assert any(
        f["name"] == "grants" and f["level"] == "warn" and "superuser" in f["detail"]
        for f in report["findings"]
    )


def test_open_dental_unreachable_is_named(desk: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("LINKER_PMS", "open_dental")
    monkeypatch.setenv("LINKER_OPEN_DENTAL_URL", f"mysql+pymysql://ro@127.0.0.1:{free_port()}/od")
    monkeypatch.setenv("LINKER_OPEN_DENTAL_PASSWORD", SECRET)
    status, report = _doctor(capsys)
    finding = _find(report, "PMS source and sync", "Open Dental")
    assert status == 1 and finding["level"] == "fail" and "reachable" in finding["hint"]
    assert SECRET not in json.dumps(report)


@needs_mariadb
def test_open_dental_reachable(desk: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with open_dental_database() as url:
        monkeypatch.setenv("LINKER_PMS", "open_dental")
        monkeypatch.setenv("LINKER_OPEN_DENTAL_URL", url)
        _, report = _doctor(capsys)
    assert _find(report, "PMS source and sync", "Open Dental")["level"] == "ok"


@pytest.mark.parametrize(
    ("setting", "term", "says"),
    [
        (
            "auto",
            "linux",
            "no block elements (terminal_glyphs = auto: TERM=linux is a text console)",
        ),
        ("console", "xterm-256color", "no block elements (terminal_glyphs = console: set so)"),
        ("auto", "xterm-256color", "block elements and marks (terminal_glyphs = auto)"),
        ("unicode", "linux", "block elements and marks (terminal_glyphs = unicode)"),
    ],
)
def test_the_terminal_glyphs_are_reported(
    desk: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    term: str,
    says: str,
) -> None:
    """How the app will draw frames and marks on this terminal, and why (the TUI's own
    rule, ``common.terminal.console_glyphs``)."""
    monkeypatch.setenv("TERM", term)
    monkeypatch.setenv("LINKER_TERMINAL_GLYPHS", setting)
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "UTF-8")
    _status, report = _doctor(capsys)
    assert _find(report, "terminal", "glyphs")["detail"].endswith(says)
