"""Fixtures shared by the core tests: a database on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.store.db import make_engine
from linker_tui.store.schema import create_schema, drop_schema
from linker_tui.workflow.decisions import Workflow
from linker_tui.workflow.practice import PracticeInfo
from tests.builders import NOW, TZ
from tests.worker_databases import use_worker_databases

use_worker_databases()  # before anything reads the database URLs
POSTGRES_URL = os.environ.get("LINKER_TEST_POSTGRES_URL", "")


@pytest.fixture(autouse=True)
def _log_file_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commands under test log to a file of the test, not to the user's log folder."""
    monkeypatch.setenv("LINKER_LOG_FILE", str(tmp_path / "log" / "linker-tui.log"))


def _backends() -> list[object]:
    skip_pg = pytest.mark.skipif(not POSTGRES_URL, reason="LINKER_TEST_POSTGRES_URL is not set")
    return ["sqlite", pytest.param("postgresql", marks=[skip_pg, pytest.mark.postgres])]


@pytest.fixture(params=_backends())
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty schema on SQLite (a file) or on the test PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'test.db'}" if request.param == "sqlite" else POSTGRES_URL
    eng = make_engine(url)
    drop_schema(eng)
    create_schema(eng)
    yield eng
    if request.param == "postgresql":
        drop_schema(eng)
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty schema in a SQLite file."""
    eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    create_schema(eng)
    yield eng
    eng.dispose()


def make_workflow(engine: Engine, user: str = "alice", desk: str = "desk-1") -> Workflow:
    """A workflow at the fixed test time."""
    return Workflow(
        engine, FixedClock(NOW), Actor(user, desk), TZ, PracticeInfo("Maple Grove Dental")
    )


@pytest.fixture
def workflow(engine: Engine) -> Workflow:
    return make_workflow(engine)


def is_decision_time(engine: Engine, value: datetime | None) -> bool:
    """Whether ``value`` is when a decision was just stamped: the desk's clock (the tests'
    fixed ``NOW``) on SQLite, the server's clock (now, give or take a minute) on
    PostgreSQL, whatever the desk's clock says."""
    if engine.dialect.name == "postgresql":
        return value is not None and abs(value - datetime.now(UTC)) < timedelta(minutes=1)
    return value == NOW


def decision_day(engine: Engine) -> date:
    """The practice's local day of a decision made now (see :func:`is_decision_time`)."""
    if engine.dialect.name == "postgresql":
        return datetime.now(TZ).date()
    return NOW.astimezone(TZ).date()
