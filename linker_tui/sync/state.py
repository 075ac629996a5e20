"""The connector state a run stores beside its data (``sync_state``): per source, a
cursor row and the connector's own bytes per name.

A value may be big (a CSV file's index: about 35 bytes a record, 35 MB for a million
appointments). On SQLite such a value is written into its row and read from it a
piece at a time (SQLite's incremental blob I/O): it is never bound as one parameter,
which the driver copies and SQLite copies again into its record, and a value given in
pieces (:data:`StateValue`) is never joined into one object either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.sync.sql import RunSql

CURSOR_ROW = ""  # the name of the sync_state row holding the cursor
PIECE = 1 << 20  # bytes written or read at a time; a bigger value is read or written so
#: A value to store: bytes, or its pieces one after another (never joined on SQLite).
StateValue = bytes | list[memoryview]


def load_state(engine: Engine, source: str) -> tuple[dict[str, bytes], int | None, str]:
    """The connector state stored for ``source``: data per name, run id, cursor."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        value = "CASE WHEN length(data) > :piece THEN NULL ELSE data END" if sqlite else "data"
        rows = conn.execute(
            sa.text(f"SELECT id, name, run_id, cursor, {value} FROM sync_state WHERE source = :s"),
            {"s": source, "piece": PIECE},
        ).all()
        data: dict[str, bytes] = {}
        for id_, name, _run, _cursor, blob in rows:
            if name == CURSOR_ROW:
                continue
            data[name] = bytes(blob) if blob is not None else _read_in_pieces(conn, id_)
    meta = [(run, cursor) for _id, name, run, cursor, _blob in rows if name == CURSOR_ROW]
    run_id, cursor = meta[0] if meta else (None, "")
    return data, run_id, cursor or ""


def state_run(conn: sa.Connection, source: str) -> int | None:
    """The run that stored the state of ``source`` (None: none yet)."""
    return conn.execute(
        sa.text("SELECT run_id FROM sync_state WHERE source = :s AND name = :n"),
        {"s": source, "n": CURSOR_ROW},
    ).scalar()


def save_state(
    sql: RunSql, source: str, cursor: str, run_id: int, state: Mapping[str, StateValue]
) -> None:
    """Store the cursor and the connector's state of ``source`` (names not in ``state``
    keep their row)."""
    names = [CURSOR_ROW, *sorted(state)]
    sql.conn.exec_driver_sql(
        f"DELETE FROM sync_state WHERE source = {sql.param} AND name IN ({sql.params(len(names))})",
        (source, *names),
    )
    rows: list[tuple[Any, ...]] = [(source, CURSOR_ROW, run_id, cursor, b"")]
    big: list[tuple[str, list[memoryview]]] = []
    for name, value in sorted(state.items()):
        pieces = [memoryview(value)] if isinstance(value, bytes) else value
        if sql.sqlite and sum(p.nbytes for p in pieces) > PIECE:
            big.append((name, pieces))
        else:
            rows.append((source, name, run_id, "", b"".join(pieces)))
    insert = "INSERT INTO sync_state (source, name, run_id, cursor, data) VALUES ({})"
    sql.conn.exec_driver_sql(insert.format(sql.params(5)), rows)
    for name, pieces in big:
        size = sum(p.nbytes for p in pieces)
        row = sql.conn.exec_driver_sql(
            insert.format("?, ?, ?, '', zeroblob(?)"), (source, name, run_id, size)
        ).lastrowid
        with _driver(sql.conn).blobopen("sync_state", "data", row) as blob:
            for piece in pieces:
                for at in range(0, piece.nbytes, PIECE):
                    blob.write(piece[at : at + PIECE])


def _read_in_pieces(conn: sa.Connection, row: int) -> bytes:
    """A big value of ``sync_state`` read a piece at a time into one buffer (SQLite)."""
    with _driver(conn).blobopen("sync_state", "data", row, readonly=True) as blob:
        out = bytearray(len(blob))
        view = memoryview(out)
        for at in range(0, len(out), PIECE):
            view[at : at + PIECE] = blob.read(PIECE)
    return out  # type: ignore[return-value]  # (bytes-like: read as bytes are)


def _driver(conn: sa.Connection) -> Any:
    """The sqlite3 connection under ``conn``."""
    return conn.connection.driver_connection
