"""The CLI never prints data raw: ``sync`` (inbox file names), ``audit`` (CSV, JSON) and
``match`` (plain, JSON) with every class of control character in the data; ``audit --raw``
exports the exact stored text, to a file or a pipe only."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import col, select

from linker_tui.common.text import dumps_json
from linker_tui.store.db import read_session
from linker_tui.store.models import AuditEvent
from tests.builders import empty_config
from tests.hostile import EVERYTHING, SURROGATE, X, bad_characters, hostile_inbox, make_hostile
from tests.tui.world import World, build_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    """The TUI tests' practice with every piece of data hostile, a rejection whose reason
    is hostile (audited) and unreadable inbox files with hostile names."""
    world = build_world(tmp_path)
    make_hostile(world.engine)
    world.services.workflow.reject(world.requests["none"], f"reason {X}", expected_version=1)
    hostile_inbox(world.services.settings.effective_inbox_dir)
    return world


def stored_details(world: World) -> list[str]:
    """The audit events' detail column as stored."""
    with read_session(world.engine) as s:
        return [e.detail for e in s.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]


def cli(world: World, *args: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``linker-tui ARGS`` on the world's data folder (output as text, not decoded
    leniently: what a terminal would get)."""
    env = {
        "LINKER_DATA_DIR": str(world.tmp_path),
        "LINKER_CONFIG": str(empty_config(world.tmp_path)),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "linker_tui.cli.main", *args],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
    )


def assert_clean(done: subprocess.CompletedProcess[str]) -> None:
    assert bad_characters(done.stdout or "") == [], done.stdout
    assert bad_characters(done.stderr) == [], done.stderr


def test_sync_prints_inbox_file_names_cleaned(world: World) -> None:
    done = cli(world, "sync", "--problems", "100")
    assert_clean(done)
    assert "]0;PWNED-TITLE" in done.stdout + done.stderr  # the names are there, harmless
    assert_clean(cli(world, "sync", "--runs", "5"))


def test_audit_csv_is_neutralised_and_json_escaped_yet_exact(world: World) -> None:
    done = cli(world, "audit")
    assert done.returncode == 0, done.stderr
    assert_clean(done)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert any(r["detail"].startswith("reason PWN ]0;PWNED-TITLE") for r in rows)

    done = cli(world, "audit", "--format", "json")
    assert_clean(done)
    assert "\\u001b]0;PWNED-TITLE\\u0007" in done.stdout
    events = json.loads(done.stdout)
    assert [e["detail"] for e in events] == stored_details(world)  # exactly


def test_audit_raw_is_exact_and_refused_on_a_terminal(world: World, tmp_path: Path) -> None:
    done = cli(world, "audit", "--raw")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout, newline="")))
    assert [r["detail"] for r in rows] == stored_details(world)
    assert any("\x1b]0;PWNED-TITLE\x07" in r["detail"] for r in rows)

    leader, follower = pty.openpty()
    try:
        done = cli(world, "audit", "--raw", stdout=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert "terminal" in done.stderr
    assert_clean(done)


def test_match_plain_and_json(world: World) -> None:
    done = cli(world, "match")
    assert done.returncode == 0, done.stderr
    assert_clean(done)
    assert "]0;PWNED-TITLE" in done.stdout

    done = cli(world, "match", "--json")
    assert done.returncode == 0, done.stderr
    assert_clean(done)
    typed = [json.loads(line)["typed"] for line in done.stdout.splitlines()]
    assert any(X in value for t in typed for value in t.values() if isinstance(value, str))


def test_dumps_json_escapes_every_class_and_round_trips() -> None:
    value = {"name": EVERYTHING + SURROGATE + "Zoë 李", X: [X]}
    text = dumps_json(value)
    assert bad_characters(text) == []
    assert "Zoë 李" in text  # ordinary letters stay readable
    assert json.loads(text) == value
