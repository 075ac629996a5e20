"""The file mail backend never claims to send: the CLI and the app say "written to <folder>
(mail is not sent: mail_backend = file)", and outside the demo the status line says that
mail is not sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from linker_tui.cli.mail import run_outbox_command
from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.services import Services, not_sent_note
from linker_tui.settings.config import Settings
from tests.builders import NOW
from tests.mail_support import PRACTICE, linked_email


def _services(engine: Engine, tmp_path: Path, *, demo: bool = False, **more: object) -> Services:
    settings = Settings(
        data_dir=tmp_path,
        practice_name=PRACTICE.name,
        practice_email=PRACTICE.email,
        **more,  # type: ignore[arg-type]
    )
    actor = Actor("carol", "desk-3")
    return Services.open(settings, clock=FixedClock(NOW), actor=actor, engine=engine, demo=demo)


def test_outbox_send_with_the_file_backend_says_where_and_that_nothing_was_sent(
    sqlite_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from linker_tui.cli import main as cli  # the CLI modules bind sys.stdout at import

    linked_email(sqlite_engine)
    services = _services(sqlite_engine, tmp_path)
    assert run_outbox_command(services, cli._parser().parse_args(["outbox", "send"])) == 0
    out = capsys.readouterr().out.splitlines()
    folder = tmp_path / "outbox"
    assert out == [
        "sent 1, retrying 0, failed 0, cancelled 0",
        f"those 1 were written to {folder} (mail is not sent: mail_backend = file)",
    ]
    assert len(list(folder.glob("*.eml"))) == 1


def test_what_the_status_line_says_about_mail(sqlite_engine: Engine, tmp_path: Path) -> None:
    files = _services(sqlite_engine, tmp_path)
    assert files.mail_notice == "mail is not sent: mail_backend = file"
    assert not_sent_note(files.settings).startswith(f"written to {tmp_path / 'outbox'} ")
    assert _services(sqlite_engine, tmp_path, demo=True).mail_notice == ""  # on purpose
    smtp = _services(sqlite_engine, tmp_path, mail_backend="smtp")
    assert smtp.mail_notice == "" and not_sent_note(smtp.settings) == ""
