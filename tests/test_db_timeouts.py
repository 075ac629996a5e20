"""No database wait is unbounded: SQLite's busy timeout; PostgreSQL's connect timeout and
TCP keepalives (a URL's own values win)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from linker_tui.store.db import CONNECT_TIMEOUT, READ_TIMEOUT, STATEMENT_TIMEOUT, make_engine


def test_every_connection_has_its_timeouts(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            return
        params = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
    assert params["connect_timeout"] == str(CONNECT_TIMEOUT)
    assert (params["keepalives"], params["keepalives_idle"]) == ("1", "10")
    assert params["tcp_user_timeout"] == str(READ_TIMEOUT * 1000)
    assert params["options"] == f"-c statement_timeout={STATEMENT_TIMEOUT * 1000}"
    own = make_engine(
        engine.url.update_query_dict({"connect_timeout": "3"}).render_as_string(hide_password=False)
    )
    with own.connect() as conn:
        params = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
    own.dispose()
    assert params["connect_timeout"] == "3"
