"""Mail settings (the password stays secret), the ``outbox`` commands, and the scheduler."""

from __future__ import annotations

import argparse
import email
import threading
import time
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from linker_tui.cli.mail import EX_TEMPFAIL, run_outbox_command
from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.mail.report import RelayReport
from linker_tui.mail.transport import FileMailer, SmtpMailer
from linker_tui.scheduler import OUTBOX_JOB, JobScheduler, add_outbox_job
from linker_tui.services import Services, make_mailer
from linker_tui.settings.config import Settings
from linker_tui.store.enums import OutboxStatus
from tests.builders import NOW, empty_config
from tests.mail_support import PRACTICE, ScriptedHandler, linked_email, smtp_server

SECRET = "correct-horse-42"


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("LINKER_CONFIG", str(empty_config(tmp_path)))
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    for name in ("LINKER_SMTP_PASSWORD", "LINKER_MAIL_BACKEND", "LINKER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_smtp_password_from_the_environment_never_shows(
    no_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKER_SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("LINKER_MAIL_BACKEND", "smtp")
    monkeypatch.setenv("LINKER_SMTP_SECURITY", "tls")
    settings = Settings()
    secret = settings.smtp_secret()
    assert secret is not None and secret.get_secret_value() == SECRET
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(secret)):
        assert SECRET not in shown
    assert settings.effective_smtp_port == 465
    mailer = make_mailer(settings)
    assert isinstance(mailer, SmtpMailer) and SECRET not in repr(mailer) + str(vars(mailer))
    copy = settings.with_overrides(practice_name="Other")
    assert copy.smtp_secret() == secret


def test_smtp_password_from_a_file(no_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = no_config / "smtp-password"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    monkeypatch.setenv("LINKER_SMTP_PASSWORD_FILE", str(secret_file))
    settings = Settings()
    assert settings.smtp_secret() is not None
    assert settings.smtp_secret().get_secret_value() == SECRET  # type: ignore[union-attr]
    assert settings.effective_smtp_port == 587  # starttls by default
    assert Settings(smtp_password_file=None).smtp_secret() is None


def test_file_backend_is_the_default(no_config: Path) -> None:
    settings = Settings()
    assert settings.mail_backend == "file"
    assert isinstance(make_mailer(settings), FileMailer)


def _services(engine: Engine, tmp_path: Path, **settings: Any) -> Services:
    base = Settings(
        data_dir=tmp_path,
        practice_name=PRACTICE.name,
        practice_email=PRACTICE.email,
        practice_timezone="America/Toronto",
        **settings,
    )
    return Services.open(base, clock=FixedClock(NOW), actor=Actor("carol", "desk-3"), engine=engine)


def _args(*argv: str) -> argparse.Namespace:
    from linker_tui.cli import main as cli  # imported late: the CLI modules bind sys.stdout

    return cli._parser().parse_args(["outbox", *argv])


def test_outbox_send_and_list_through_smtp(
    sqlite_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_config: Path
) -> None:
    good = linked_email(sqlite_engine)
    bad = linked_email(sqlite_engine, first="Bill", last="Hart", address="nobody@example.com")
    handler = ScriptedHandler(rcpt_script=["250 OK", "550 5.1.1 no such user"])
    with smtp_server(handler) as server:
        services = _services(
            sqlite_engine, tmp_path, mail_backend="smtp", smtp_host="127.0.0.1",
            smtp_port=server.port, smtp_security="none", smtp_timeout=2,
        )  # fmt: skip
        assert run_outbox_command(services, _args("send")) == 1  # a permanent failure
    out, err = capsys.readouterr()
    assert "sent 1, retrying 0, failed 1, cancelled 0" in out
    assert f"email {bad}: failed: recipient refused: 550 5.1.1 no such user" in err
    assert run_outbox_command(services, _args("list")) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "TRIES", "WHEN", "(local)", "TO", "LAST", "ERROR"]
    assert any(line.split()[:3] == [str(good), "sent", "1"] for line in lines)
    assert any(
        line.split()[:3] == [str(bad), "failed", "1"] and "550 5.1.1 no such user" in line
        for line in lines
    )
    assert lines[-1] == "queued 0, sending 0, sent 1, failed 1, cancelled 0"
    assert run_outbox_command(services, _args("retry", str(bad))) == 0
    assert run_outbox_command(services, _args("cancel", str(bad), "--reason", "wrong")) == 0
    assert run_outbox_command(services, _args("cancel", str(bad))) == 1
    assert "it cannot be cancelled" in capsys.readouterr().err
    assert [e.status for e in services.outbox_entries((OutboxStatus.CANCELLED,))] == [
        OutboxStatus.CANCELLED
    ]


def test_outbox_send_exits_tempfail_when_the_server_is_down(
    sqlite_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_config: Path
) -> None:
    linked_email(sqlite_engine)
    services = _services(
        sqlite_engine, tmp_path, mail_backend="smtp", smtp_host="127.0.0.1",
        smtp_port=1, smtp_security="none", smtp_timeout=1,
    )  # fmt: skip
    assert run_outbox_command(services, _args("send")) == EX_TEMPFAIL
    out = capsys.readouterr().out
    assert "stopped: mail server unavailable, paused until 2026-11-27T14:01+00:00: " in out
    assert "SMTP server 127.0.0.1:1 unavailable" in out


def test_a_password_file_others_can_read_is_refused(
    no_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from linker_tui.cli import main as cli

    secret_file = no_config / "smtp-password"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    secret_file.chmod(0o644)
    monkeypatch.setenv("LINKER_SMTP_PASSWORD_FILE", str(secret_file))
    assert cli.main(["outbox", "list"]) == 2
    err = capsys.readouterr().err
    assert f"smtp_password_file: {secret_file} may be read by others (mode 0644)" in err
    assert "chmod 600" in err and SECRET not in err
    monkeypatch.setenv("LINKER_SMTP_PASSWORD_FILE", str(no_config / "missing"))
    assert cli.main(["outbox", "list"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_outbox_send_with_a_password_file_gone_after_start(
    sqlite_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_config: Path
) -> None:
    linked_email(sqlite_engine)
    secret_file = tmp_path / "smtp-password"
    secret_file.write_text(SECRET, encoding="utf-8")
    secret_file.chmod(0o600)
    services = _services(
        sqlite_engine, tmp_path, mail_backend="smtp", smtp_password_file=secret_file
    )
    secret_file.unlink()
    assert run_outbox_command(services, _args("send")) == 2
    assert "cannot set up mail delivery" in capsys.readouterr().err


def test_cli_main_lists_the_outbox(
    no_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from linker_tui.cli import main as cli

    monkeypatch.setenv("LINKER_DATABASE_URL", f"sqlite:///{no_config / 'cli.db'}")
    assert cli.main(["db", "upgrade"]) == 0  # a configured database: the admin creates it
    capsys.readouterr()
    assert cli.main(["outbox", "list"]) == 0
    assert "queued 0, sending 0" in capsys.readouterr().out
    assert cli.main(["outbox", "send"]) == 0
    assert capsys.readouterr().out.strip() == "sent 0, retrying 0, failed 0, cancelled 0"


def test_services_deliver_outbox_uses_the_file_backend(
    sqlite_engine: Engine, tmp_path: Path, no_config: Path
) -> None:
    oid = linked_email(sqlite_engine)
    services = _services(sqlite_engine, tmp_path)
    report = services.deliver_outbox()
    assert report.sent == 1 and report.failed == 0
    (path,) = (tmp_path / "outbox").glob("*.eml")
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == services.outbox_entries()[0].message_id
    assert services.outbox_entries()[0].id == oid
    assert services.outbox_counts()[OutboxStatus.SENT] == 1


# ---------------------------------------------------------------- scheduler
def test_scheduler_runs_the_outbox_job_and_reports_results(
    sqlite_engine: Engine, tmp_path: Path, no_config: Path
) -> None:
    linked_email(sqlite_engine)
    services = _services(sqlite_engine, tmp_path, outbox_interval_seconds=30)
    results: list[tuple[str, Any]] = []
    done = threading.Event()

    def on_result(name: str, report: RelayReport) -> None:
        results.append((name, report))
        done.set()

    jobs = JobScheduler()
    add_outbox_job(jobs, services, on_result, lambda name, exc: results.append((name, exc)))
    with jobs:
        assert done.wait(5)
    assert not jobs.running
    ((name, report),) = results
    assert name == OUTBOX_JOB and isinstance(report, RelayReport) and report.sent == 1


def test_scheduler_reports_errors_runs_one_instance_and_stops_quickly() -> None:
    release = threading.Event()
    started: list[float] = []
    errors: list[tuple[str, BaseException]] = []
    failed = threading.Event()

    def slow() -> None:
        started.append(time.monotonic())
        release.wait(5)

    def broken() -> None:
        raise RuntimeError("PMS unreachable")

    def on_error(name: str, exc: BaseException) -> None:
        errors.append((name, exc))
        failed.set()

    jobs = JobScheduler()
    jobs.add_job("slow", slow, 0.05)
    jobs.add_job("sync", broken, 60, on_error=on_error)
    jobs.add_job("later", lambda: None, 60, run_now=False)
    assert sorted(jobs.job_names()) == ["later", "slow", "sync"]
    jobs.start()
    try:
        assert failed.wait(5)
        time.sleep(0.3)  # several intervals pass while "slow" is still running
        assert len(started) == 1  # max_instances=1
        began = time.monotonic()
        jobs.shutdown(wait=False)
        assert time.monotonic() - began < 0.5
    finally:
        release.set()
    assert errors[0][0] == "sync" and str(errors[0][1]) == "PMS unreachable"
    assert not jobs.running
