"""Schema versions: ``linker-tui db upgrade`` on empty SQLite and PostgreSQL, the schema it
makes equal to the models, and the app refusing a missing, older or newer schema."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from linker_tui.cli.main import main
from linker_tui.read.filter import text_condition
from linker_tui.read.queries import ListQuery, request_page
from linker_tui.services import Services
from linker_tui.settings.config import Settings
from linker_tui.store import schema, search
from linker_tui.store.db import make_engine, write_session
from linker_tui.store.models import AuditEvent, OnlineRequest
from linker_tui.store.schema import create_schema, drop_schema
from linker_tui.store.search import FTS_TABLE, TRGM_INDEX, is_search_object
from linker_tui.store.tables import metadata
from tests.builders import NOW, TZ, empty_config
from tests.conftest import POSTGRES_URL, _backends

FUTURE = "9999_from_a_newer_linker"


@pytest.fixture(params=_backends())
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    """An engine on a database with no linker-tui schema at all, and its URL."""
    url = f"sqlite:///{tmp_path / 'empty.db'}" if request.param == "sqlite" else POSTGRES_URL
    eng = make_engine(url)
    drop_schema(eng)
    yield eng, url
    drop_schema(eng)
    eng.dispose()


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("LINKER_CONFIG", str(empty_config(tmp_path)))
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LINKER_DATABASE_URL", raising=False)
    # one role does everything here (the admin and desk roles: tests/test_trail_postgres.py)
    monkeypatch.setenv("LINKER_DATABASE_ADMIN_ROLE", "")
    monkeypatch.setenv("LINKER_DATABASE_DESK_ROLE", "")
    return tmp_path / "data"


def _stamp(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


def _audit_row(engine: Engine) -> int:
    with write_session(engine) as session:
        event = AuditEvent(at=datetime.now(UTC), os_user="admin", action="test")
        session.add(event)
        session.flush()
        assert event.id is not None
        return event.id


def test_upgrade_of_an_empty_database_makes_the_models_schema(empty: tuple[Engine, str]) -> None:
    engine, _ = empty
    assert schema.current_revision(engine) is None
    before, after = schema.upgrade(engine)
    assert (before, after) == (None, schema.head_revision())
    assert schema.current_revision(engine) == schema.head_revision()
    assert schema.schema_differences(engine) == []
    tables = {t for t in sa.inspect(engine).get_table_names() if not is_search_object(t)}
    assert set(metadata.tables) | {"alembic_version"} == tables
    schema.check_schema(engine)  # current: no complaint


def test_the_migration_installs_the_audit_guard(empty: tuple[Engine, str]) -> None:
    engine, _ = empty
    schema.upgrade(engine)
    event_id = _audit_row(engine)
    for statement in (
        "UPDATE audit_event SET action = 'forged' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement), {"id": event_id})


def test_create_schema_is_stamped_current(empty: tuple[Engine, str]) -> None:
    engine, _ = empty
    create_schema(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    assert schema.schema_differences(engine) == []
    assert schema.upgrade(engine) == (schema.head_revision(), schema.head_revision())


def test_downgrade_removes_everything(empty: tuple[Engine, str]) -> None:
    from alembic import command

    engine, _ = empty
    schema.upgrade(engine)
    config = schema._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}


def _search_objects(engine: Engine) -> set[str]:
    """The search index's table and triggers (SQLite) or index (PostgreSQL)."""
    if engine.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE name LIKE 'online_request_search%'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'online_request'"
    with engine.connect() as conn:
        return {name for name in conn.exec_driver_sql(query).scalars() if is_search_object(name)}


def _uses_search_index(engine: Engine) -> bool:
    """Whether a filter word is looked up in the search index (the plan says so)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH 'abc'"
            ).all()
            return any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        expression = " || ' ' || ".join(search.SEARCHED)
        plan = conn.execute(
            sa.text(f"EXPLAIN SELECT id FROM online_request WHERE ({expression}) ILIKE :p"),
            {"p": "%abc%"},
        ).all()
        return any(TRGM_INDEX in str(row) for row in plan)


def test_the_migration_makes_the_search_index_and_its_downgrade_removes_it(
    empty: tuple[Engine, str],
) -> None:
    from alembic import command

    engine, _ = empty
    schema.upgrade(engine)
    expected = (
        {FTS_TABLE, f"{FTS_TABLE}_insert", f"{FTS_TABLE}_update", f"{FTS_TABLE}_delete"}
        if engine.dialect.name == "sqlite"
        else {TRGM_INDEX}
    )
    assert expected <= _search_objects(engine)
    assert _uses_search_index(engine)
    config = schema._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004_sync_run_holder")
    assert _search_objects(engine) == set()
    # a request that arrived on the old schema is found once the index is made again
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO online_request (external_id, received_at, typed_first_name,"
            " typed_last_name, typed_email, typed_phone, requested_start, reason, note,"
            " patient_chosen_by, patient_match_level, patient_match_count, state,"
            " reject_reason, decided_by, version, attention) VALUES ('R1',"
            " '2026-11-26 10:00:00', 'Ana', 'Quixote', '', '', '2026-12-01 10:00:00', '', '',"
            " '', '', 0, 'pending', '', '', 1, '')"
        )
    schema.upgrade(engine)
    assert expected <= _search_objects(engine)
    page = request_page(engine, ListQuery(text="quixo"), 0, TZ, NOW)
    assert [row.external_id for row in page.rows] == ["R1"]


def _uses_open_indexes(engine: Engine) -> set[str]:
    """PostgreSQL: which of the open requests' partial indexes the list's reads can use:
    an unfiltered page, and a filter word with the other indexes on the state dropped for
    the look (in a transaction rolled back: PostgreSQL's DDL is transactional)."""
    table = OnlineRequest.__table__
    opened = search.open_requests(table.c.state)
    with engine.connect() as conn, conn.begin() as transaction:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        page = sa.select(table.c.id).where(opened).order_by(table.c.received_at, table.c.id)
        plans = _explain(conn, page.limit(100))
        for index in ("ix_request_state_received", search.OPEN_ORDER_INDEX):
            conn.exec_driver_sql(f"DROP INDEX {index}")
        found = sa.and_(opened, text_condition(conn, table, "quixote", 0))
        plans += _explain(conn, sa.select(table.c.id).where(found))
        transaction.rollback()
    return {i for i in (search.OPEN_ORDER_INDEX, search.OPEN_TRGM_INDEX) if i in plans}


def _explain(conn: sa.Connection, statement: sa.Select[Any]) -> str:
    compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
    return str(conn.exec_driver_sql(f"EXPLAIN {compiled}").all())


def test_the_open_request_indexes_are_made_and_their_downgrade_removes_them(
    empty: tuple[Engine, str],
) -> None:
    """PostgreSQL: the list's order and the search index of the open requests (0007);
    SQLite has neither (its planner would not use them)."""
    from alembic import command

    engine, _ = empty
    schema.upgrade(engine)
    opened = {search.OPEN_ORDER_INDEX, search.OPEN_TRGM_INDEX}
    if engine.dialect.name == "sqlite":
        assert not opened & {i["name"] for i in sa.inspect(engine).get_indexes("online_request")}
        return
    assert opened <= _search_objects(engine)
    assert _uses_open_indexes(engine) == opened
    config = schema._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006_outbox_insert_audit")
    assert _search_objects(engine) == {TRGM_INDEX}
    schema.upgrade(engine)
    assert opened <= _search_objects(engine)


def test_check_schema_refuses_a_missing_schema(empty: tuple[Engine, str]) -> None:
    engine, _ = empty
    with pytest.raises(schema.SchemaMismatch, match=r"no linker-tui schema yet.*db upgrade"):
        schema.check_schema(engine)


def test_check_schema_refuses_a_newer_schema(empty: tuple[Engine, str]) -> None:
    engine, _ = empty
    schema.upgrade(engine)
    _stamp(engine, FUTURE)
    with pytest.raises(schema.SchemaMismatch, match=rf"newer linker-tui \(schema {FUTURE}\)"):
        schema.check_schema(engine)
    # even the default SQLite file is not "upgraded" away from a newer version
    with pytest.raises(schema.SchemaMismatch, match="newer"):
        schema.ensure_schema(engine, auto_upgrade=True)
    assert schema.current_revision(engine) == FUTURE


def test_check_schema_refuses_an_older_schema(
    empty: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = empty
    schema.upgrade(engine)
    old = schema.head_revision()
    # this version knows a newer revision than the database's
    monkeypatch.setattr(schema, "head_revision", lambda: "0002_next")
    monkeypatch.setattr(schema, "known_revisions", lambda: {old, "0002_next"})
    with pytest.raises(
        schema.SchemaMismatch, match=rf"older schema \({old}\).*needs 0002_next.*db upgrade"
    ):
        schema.check_schema(engine)


def test_a_database_made_before_migrations_is_adopted(empty: tuple[Engine, str]) -> None:
    engine, _ = empty
    metadata.create_all(engine)  # what linker-tui did before there were revisions
    assert schema.has_unversioned_tables(engine)
    assert schema.upgrade(engine) == (None, schema.head_revision())
    assert schema.schema_differences(engine) == []
    event_id = _audit_row(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": event_id})


# ---------------------------------------------------------------------------- the CLI
def test_db_upgrade_twice_is_a_no_op(
    empty: tuple[Engine, str],
    no_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine, url = empty
    monkeypatch.setenv("LINKER_DATABASE_URL", url)
    head = schema.head_revision()
    assert main(["db", "upgrade"]) == 0
    assert f"schema (none) → {head}" in capsys.readouterr().out
    assert schema.schema_differences(engine) == []
    assert main(["db", "upgrade"]) == 0
    assert f"schema {head} → {head} (already current)" in capsys.readouterr().out
    assert main(["db", "status"]) == 0
    assert f"schema {head}; this linker-tui: {head}" in capsys.readouterr().out


def test_db_upgrade_leaves_a_newer_schema_alone(
    empty: tuple[Engine, str],
    no_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine, url = empty
    schema.upgrade(engine)
    _stamp(engine, FUTURE)
    monkeypatch.setenv("LINKER_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 2
    assert "newer than this linker-tui knows" in capsys.readouterr().err
    assert schema.current_revision(engine) == FUTURE


def test_the_app_refuses_a_configured_database_without_schema(
    empty: tuple[Engine, str],
    no_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine, url = empty
    monkeypatch.setenv("LINKER_DATABASE_URL", url)
    assert main(["outbox", "list"]) == 2
    err = capsys.readouterr().err
    assert "no linker-tui schema yet" in err and "linker-tui db upgrade" in err
    assert schema.current_revision(engine) is None  # nothing was created
    assert sa.inspect(engine).get_table_names() == []
    with pytest.raises(schema.SchemaMismatch):
        Services.open(Settings(database_url=url), engine=engine)


def test_the_app_refuses_a_newer_schema(
    empty: tuple[Engine, str],
    no_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine, url = empty
    schema.upgrade(engine)
    _stamp(engine, FUTURE)
    monkeypatch.setenv("LINKER_DATABASE_URL", url)
    assert main(["outbox", "list"]) == 2
    assert "upgraded by a newer linker-tui" in capsys.readouterr().err


def test_the_default_sqlite_file_is_created_on_first_start(
    no_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["outbox", "list"]) == 0
    engine = make_engine(f"sqlite:///{no_config / 'linker.db'}")
    assert schema.current_revision(engine) == schema.head_revision()
    assert schema.schema_differences(engine) == []
    engine.dispose()


def test_the_known_head_is_alembics_head() -> None:
    """A new migration must move ``HEAD_REVISION`` too."""
    assert schema.head_revision() == schema.HEAD_REVISION == schema.alembic_head()


def test_a_start_on_a_current_schema_does_not_import_alembic(tmp_path: Path) -> None:
    """What ``linker-tui`` imports and runs before its app starts, in a fresh interpreter:
    the schema check is a plain query, Alembic (about 200 ms of imports) stays out."""
    url = f"sqlite:///{tmp_path / 'current.db'}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    program = (
        "import sys\n"
        "import linker_tui.cli.main, linker_tui.tui.app\n"
        "from linker_tui.settings.config import Settings\n"
        "from linker_tui.services import Services\n"
        f"Services.open(Settings(database_url={url!r}, data_dir={str(tmp_path)!r}))\n"
        "print(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.')))\n"
    )
    env = {**os.environ, "LINKER_CONFIG": str(empty_config(tmp_path))}
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"


def test_several_recorded_revisions_are_refused(empty: tuple[Engine, str]) -> None:
    engine, _ = empty
    schema.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES ('0002_x')"))
    with pytest.raises(schema.SchemaMismatch, match="several schema revisions"):
        schema.check_schema(engine)
