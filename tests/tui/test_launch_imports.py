"""What the app imports before staff see the first requests (launch → rows is the wait
``tests/benchmarks/bench_launch.py`` measures): the scheduler, the mail relay and its
templates, and the sync engine come later, once the rows are on screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.tui.world import World

LATER = (
    "apscheduler",
    "icalendar",
    "jinja2",
    "smtplib",
    "linker_tui.scheduler",
    "linker_tui.sync.engine",
    "linker_tui.sync.worker",
    "linker_tui.mail.relay",
    "linker_tui.mail.compose",
    "linker_tui.workflow.decisions",
    "linker_tui.tui.flows",
    "linker_tui.tui.screens.outbox",
    "linker_tui.demo",
)


ORM = (
    "sqlmodel",
    "sqlalchemy.orm",
    "linker_tui.store.models",
    "linker_tui.matching",
    "rapidfuzz",
    "phonenumbers",
)
"""The first page is read with SQLAlchemy Core (:mod:`linker_tui.store.tables`) and shows
the patient rankings stored on the requests: neither the ORM nor the matcher is needed
(nor phonenumbers: the settings check a phone region only when they give one)."""


def _imported_at_first_rows(tmp_path: Path) -> set[str]:
    """The modules imported when the first page is handed to the list."""
    config = tmp_path / "settings.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "linker.db"}"\n'
        f'data_dir = "{tmp_path}"\n'
        'practice_timezone = "America/Toronto"\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.launch_imports"],
        capture_output=True,
        text=True,
        env={**os.environ, "LINKER_CONFIG": str(config)},
        timeout=120,
        check=True,
    )
    imported = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "linker_tui.tui.screens.main" in imported  # the rows were listed
    return imported


def test_first_rows_need_no_scheduler_mail_or_sync_engine(world: World, tmp_path: Path) -> None:
    imported = _imported_at_first_rows(tmp_path)
    assert sorted(name for name in LATER if name in imported) == []


def test_first_rows_need_no_orm_and_no_matching(world: World, tmp_path: Path) -> None:
    imported = _imported_at_first_rows(tmp_path)
    assert sorted(name for name in ORM if name in imported) == []
    assert "linker_tui.read.queries" in imported  # through the one read path
