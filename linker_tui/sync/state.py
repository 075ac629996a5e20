"""The connector state a run stores beside its data (``sync_state``): per source, a
cursor row and the connector's own bytes per name."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.sync.sql import RunSql

CURSOR_ROW = ""  # the name of the sync_state row holding the cursor


def load_state(engine: Engine, source: str) -> tuple[dict[str, bytes], int | None, str]:
    """The connector state stored for ``source``: data per name, run id, cursor."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT name, run_id, cursor, data FROM sync_state WHERE source = :s"),
            {"s": source},
        ).all()
    data = {name: bytes(blob) for name, _run, _cursor, blob in rows if name != CURSOR_ROW}
    meta = [(run, cursor) for name, run, cursor, _blob in rows if name == CURSOR_ROW]
    run_id, cursor = meta[0] if meta else (None, "")
    return data, run_id, cursor or ""


def state_run(conn: sa.Connection, source: str) -> int | None:
    """The run that stored the state of ``source`` (None: none yet)."""
    return conn.execute(
        sa.text("SELECT run_id FROM sync_state WHERE source = :s AND name = :n"),
        {"s": source, "n": CURSOR_ROW},
    ).scalar()


def save_state(
    sql: RunSql, source: str, cursor: str, run_id: int, state: Mapping[str, bytes]
) -> None:
    """Store the cursor and the connector's state of ``source`` (names not in ``state``
    keep their row)."""
    names = [CURSOR_ROW, *sorted(state)]
    sql.conn.exec_driver_sql(
        f"DELETE FROM sync_state WHERE source = {sql.param} AND name IN ({sql.params(len(names))})",
        (source, *names),
    )
    rows = [(source, CURSOR_ROW, run_id, cursor, b"")]
    rows += [(source, name, run_id, "", data) for name, data in sorted(state.items())]
    sql.conn.exec_driver_sql(
        f"INSERT INTO sync_state (source, name, run_id, cursor, data) VALUES ({sql.params(5)})",
        rows,
    )
