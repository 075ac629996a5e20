"""The database being away: one line and exit code 69 from every command, a health record
that knows since when (and recovers by itself), slow reads noticed after a second."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from linker_tui.cli.main import main
from linker_tui.common.outage import (
    EXIT_DATABASE_UNAVAILABLE,
    SLOW_SECONDS,
    DatabaseUnavailable,
    health,
    unavailable,
)
from linker_tui.store.db import make_engine
from linker_tui.store.schema import create_schema, drop_schema
from tests.conftest import POSTGRES_URL
from tests.tcp_proxy import proxy_to

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="LINKER_TEST_POSTGRES_URL is not set")
COMMANDS = [[], ["run"], ["sync"], ["db", "status"], ["db", "upgrade"], ["audit"], ["match"]]
COMMANDS += [["outbox", "list"], ["outbox", "send"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_says_in_one_line_that_the_server_is_away(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    url = f"postgresql+psycopg://desk:s3cret@127.0.0.1:{port}/linker"
    monkeypatch.setenv("LINKER_DATABASE_URL", url)
    assert main(command) == EXIT_DATABASE_UNAVAILABLE
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"linker-tui: cannot use the database postgresql+psycopg://desk@127.0.0.1:{port}/linker:"
        f" connection refused — check that the server listens on 127.0.0.1:{port}\n"
    )


def test_a_sqlite_file_that_cannot_be_opened(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LINKER_DATABASE_URL", f"sqlite:///{blocker / 'linker.db'}")
    assert main(["sync"]) == EXIT_DATABASE_UNAVAILABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot open the database file — check that its folder exists" in err


@needs_postgres
def test_an_unknown_database_and_a_statement_timeout() -> None:
    url = make_url(POSTGRES_URL)
    other = make_engine(url.set(database="linker_no_such_db").render_as_string(False))
    with pytest.raises(DatabaseUnavailable, match='database "linker_no_such_db" does not exist'):
        other.connect()
    other.dispose()
    quick = make_engine(
        url.update_query_dict({"options": "-c statement_timeout=200"}).render_as_string(False)
    )
    timeout = r"no answer in time \(statement timeout\)"
    with pytest.raises(DatabaseUnavailable, match=timeout), quick.connect() as conn:
        conn.exec_driver_sql("SELECT pg_sleep(2)")
    with quick.connect() as conn:  # the next statement works: the record says so
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    assert health(quick).state().down_since is None
    quick.dispose()


def test_errors_that_are_not_an_outage_stay_what_they_are(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(sa.exc.OperationalError) as caught, engine.connect() as conn:
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    assert unavailable(caught.value) is None
    assert health(engine).state().down_since is None


@needs_postgres
def test_the_health_record_follows_a_server_that_goes_and_comes_back() -> None:
    url = make_url(POSTGRES_URL)
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as proxy:
        engine = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
        drop_schema(engine)
        create_schema(engine)
        record = health(engine)
        assert record.state().down_since is None

        proxy.cut()
        for _ in range(2):  # the pooled connection is dead, a new one is refused
            refused = pytest.raises(DatabaseUnavailable, match="connection refused")
            with refused, engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        down = record.state()
        assert down.down_since is not None
        assert down.error is not None and "connection refused" in str(down.error)

        proxy.restore()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM online_request").scalar() == 0
        assert record.state().down_since is None

        proxy.hang()  # a read that waits is noticed after SLOW_SECONDS
        answer: list[object] = []

        def read() -> None:
            with engine.connect() as conn:
                answer.append(conn.exec_driver_sql("SELECT 2").scalar())

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(SLOW_SECONDS + 0.3)
        assert record.state().waiting
        proxy.restore()
        reader.join(10)
        assert answer == [2]
        assert not record.state().waiting
        drop_schema(engine)
        engine.dispose()
