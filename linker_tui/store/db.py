"""Database engine and sessions, for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from linker_tui.common.clock import Clock
from linker_tui.common.files import private_file, private_folder
from linker_tui.common.outage import watch

if TYPE_CHECKING:
    from sqlmodel import Session

_WRITE = "linker_write"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGINs.

    Every wait on the database is bounded (:data:`CONNECT_TIMEOUT`, :data:`READ_TIMEOUT`,
    :data:`STATEMENT_TIMEOUT`, SQLite's :data:`BUSY_TIMEOUT`), and the engine is watched
    (:func:`linker_tui.common.outage.watch`): a database that is away raises a one-line
    ``DatabaseUnavailable`` and shows in its health record. A connection taken from the
    pool is checked first (a dead one is replaced)."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    limits: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            # A folder that cannot be made: opening the file says so (DatabaseUnavailable)
            with contextlib.suppress(OSError):
                path = Path(database).expanduser()
                private_folder(path.parent)
                private_file(path)  # SQLite gives its -wal and -shm files the same mode
        busy = float(parsed.query.get("timeout", BUSY_TIMEOUT))  # type: ignore[arg-type]
        kwargs["connect_args"] = {"timeout": busy, "check_same_thread": False}
        limits["busy_timeout"] = busy
    else:
        kwargs["connect_args"] = args = _network_timeouts(parsed.get_backend_name(), parsed.query)
        limits["connect_timeout"] = args.get("connect_timeout")
        limits["statement_timeout"] = STATEMENT_TIMEOUT if "options" in args else None
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, kwargs["connect_args"]["timeout"])
    watch(engine, limits)
    return engine


CONNECT_TIMEOUT = 5
"""Seconds to wait for a database server to answer a connection attempt."""
READ_TIMEOUT = 10
"""Seconds a request sent to PostgreSQL may stay unacknowledged by the server's machine
before the connection counts as dead (``tcp_user_timeout``): a link that drops packets."""
STATEMENT_TIMEOUT = 30
"""Seconds one statement may run on PostgreSQL (``statement_timeout``, lock waits included)."""
BUSY_TIMEOUT = 30
"""Seconds a SQLite statement waits for another process's lock."""


def _network_timeouts(backend: str, query: Mapping[str, Any]) -> dict[str, Any]:
    """Bounds for a server database, unless the URL sets its own: a server that does not
    answer fails the connection within :data:`CONNECT_TIMEOUT` s; (PostgreSQL) a request
    the server's machine does not acknowledge fails within :data:`READ_TIMEOUT` s, an idle
    link that silently died is noticed by TCP keepalives within about 25 s, and a statement
    runs at most :data:`STATEMENT_TIMEOUT` s, so a desk or a sync never waits for ever."""
    if backend == "postgresql":
        args: dict[str, Any] = {
            # the database records it in the audit trail beside its role (linker_tui.workflow.trail)
            "application_name": f"linker-tui {socket.gethostname()}"[:63],
            "connect_timeout": CONNECT_TIMEOUT,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": READ_TIMEOUT * 1000,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT * 1000}",
        }
    else:
        return {}
    return {key: value for key, value in args.items() if key not in query}


_BUSY_SECONDS = 30.0
"""How long SQLite waits for another program's write lock (the URL's ``?timeout=``)."""


def _configure_sqlite(engine: Engine, busy: float) -> None:
    """Pragmas per connection, and BEGIN / BEGIN IMMEDIATE emitted by us, not pysqlite."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading; objects stay usable after it closes. (The ORM is imported
    on the first session: the request list's first page is read with Core.)"""
    from sqlmodel import Session

    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: commits on success, rolls back on any exception.

    On SQLite it starts with ``BEGIN IMMEDIATE`` so a read-then-write cannot fail with
    "database is locked" halfway; on PostgreSQL callers lock rows with ``FOR UPDATE``.
    """
    from sqlmodel import Session

    bind = engine.execution_options(**{_WRITE: True})
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


def may_update(engine: Engine, table: str) -> bool:
    """Whether this connection's role may update ``table``: on a shared PostgreSQL
    database the desk role changes a request only through ``linker_decide`` (migration
    0002); elsewhere always True."""
    if engine.dialect.name != "postgresql":
        return True
    query = sa.text("SELECT has_table_privilege(current_user, :table, 'UPDATE')")
    with engine.connect() as connection:
        return bool(connection.execute(query, {"table": table}).scalar())


def db_now(engine: Engine, clock: Clock) -> Any:
    """ "Now" in a statement: the server's clock on PostgreSQL, the desk's on SQLite."""
    if engine.dialect.name == "postgresql":
        return sa.func.clock_timestamp()
    return clock.now()
