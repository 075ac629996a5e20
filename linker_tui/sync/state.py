"""The connector state a run stores beside its data (``sync_state``): per source, a
cursor row and the connector's own bytes per name.

A value may be big (a CSV file's index: about 35 bytes a record, 35 MB for a million
appointments). On SQLite such a value is written into its row and read from it a
piece at a time (SQLite's incremental blob I/O): it is never bound as one parameter,
which the driver copies and SQLite copies again into its record, and a value given in
pieces (:data:`StateValue`) is never joined into one object either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.sync.sql import RunSql

CURSOR_ROW = ""  # the name of the sync_state row holding the cursor
PIECE = 1 << 20  # bytes written or read at a time; a bigger value is read or written so


class MadePiece(Protocol):
    """A piece of a value made as it is written, a part at a time (an array converted to
    the stored type: never whole beside the array)."""

    @property
    def nbytes(self) -> int: ...

    def parts(self) -> Iterable[memoryview]: ...


#: A value to store: bytes, or its pieces one after another (never joined on SQLite).
StateValue = bytes | Sequence[memoryview | MadePiece]


def value_parts(value: StateValue) -> Iterator[memoryview]:
    """The bytes of a value, a part at a time."""
    if isinstance(value, bytes):
        yield memoryview(value)
        return
    for piece in value:
        if isinstance(piece, memoryview):
            yield piece
        else:
            yield from piece.parts()


def value_size(value: StateValue) -> int:
    """The bytes of a value."""
    return len(value) if isinstance(value, bytes) else sum(piece.nbytes for piece in value)


class StateMoved(Exception):
    """Another run stored a newer state for the source while this one was reading."""


class StoredState(MutableMapping[str, bytes]):
    """The connector state stored for a source, as a run reads it: the small values read
    with the cursor, each big one (over :data:`PIECE` bytes: a CSV file's index, 70 MB
    for 2M appointments) only when first asked for, so a run that finds its files
    unchanged reads none of them. A big value whose row was stored again meanwhile (by
    another run) raises :class:`StateMoved`: the run starts again."""

    def __init__(self, engine: Engine, values: dict[str, bytes], big: dict[str, _BigRow]) -> None:
        self._engine = engine
        self._values = values
        self._big = big

    def __getitem__(self, name: str) -> bytes:
        if name in self._big:
            self._values[name] = self._read(self._big[name])[1]
            del self._big[name]
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values or name in self._big  # (nothing read)

    def __setitem__(self, name: str, value: bytes) -> None:
        self._big.pop(name, None)
        self._values[name] = value

    def __delitem__(self, name: str) -> None:
        if self._big.pop(name, None) is None:
            del self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._values, *self._big])

    def __len__(self) -> int:
        return len(self._values) + len(self._big)

    def cut(self, name: str, cut: Cut) -> list[memoryview]:
        """:func:`cut_value` of a stored value: on SQLite a big one's parts are read from
        its row, each into a buffer of its own (nothing else of it is read or kept)."""
        if name not in self._big:
            return cut_bytes(memoryview(self.get(name, b"")), cut)
        return [memoryview(part) for part in self._read(self._big[name], cut)]

    def _read(self, big: _BigRow, cut: Cut | None = None) -> list[Any]:
        """A big value cut (:func:`cut_value`); None: the whole of it, as bytes, after an
        empty head."""
        row, run_id = big
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT run_id FROM sync_state WHERE id = :id"), {"id": row}
            ).first()
            if found is None or found[0] != run_id:
                raise StateMoved
            if conn.dialect.name == "sqlite":
                return _read_in_pieces(conn, row, cut or _WHOLE)
            data = bytes(
                conn.execute(
                    sa.text("SELECT data FROM sync_state WHERE id = :id"), {"id": row}
                ).scalar_one()
            )
            return [b"", data] if cut is None else cut_bytes(memoryview(data), cut)


#: How a value is cut: the bytes of its head, then (given the head) the sizes of the
#: parts after it (-1: the rest; a part past the value's end is short).
Cut = tuple[int, Callable[[memoryview], Sequence[int]]]
_WHOLE: Cut = (0, lambda _head: (-1,))


def cut_value(state: Mapping[str, bytes], name: str, cut: Cut) -> list[memoryview]:
    """The value ``name`` of ``state`` (empty if none) cut (:data:`Cut`): its head, then
    its parts. A big value stored on SQLite is read a part at a time, each part into a
    buffer of its own: parts let go are freed, and the whole value is never held
    (:meth:`StoredState.cut`)."""
    if isinstance(state, StoredState):
        return state.cut(name, cut)
    return cut_bytes(memoryview(state.get(name, b"")), cut)


def cut_bytes(data: memoryview, cut: Cut) -> list[memoryview]:
    """Bytes cut as :func:`cut_value` does (views)."""
    head = data[: cut[0]]
    parts, at = [head], len(head)
    for size in cut[1](head):
        end = len(data) if size < 0 else at + size
        parts.append(data[at:end])
        at = min(end, len(data))
    return parts


_BigRow = tuple[int, int | None]  # a big value's row and the run that stored it


def load_state(engine: Engine, source: str) -> tuple[StoredState, int | None, str]:
    """The connector state stored for ``source`` (its big values read when asked for),
    the run that stored it and its cursor."""
    with engine.connect() as conn:
        size = "length(data)" if conn.dialect.name == "sqlite" else "octet_length(data)"
        rows = conn.execute(
            sa.text(
                f"SELECT id, name, run_id, cursor, CASE WHEN {size} > :piece THEN NULL "
                "ELSE data END FROM sync_state WHERE source = :s"
            ),
            {"s": source, "piece": PIECE},
        ).all()
    values: dict[str, bytes] = {}
    big: dict[str, _BigRow] = {}
    for id_, name, run, _cursor, blob in rows:
        if name == CURSOR_ROW:
            continue
        if blob is None:
            big[name] = (id_, run)
        else:
            values[name] = bytes(blob)
    meta = [(run, cursor) for _id, name, run, cursor, _blob in rows if name == CURSOR_ROW]
    run_id, cursor = meta[0] if meta else (None, "")
    return StoredState(engine, values, big), run_id, cursor or ""


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
    big: list[tuple[str, StateValue]] = []
    for name, value in sorted(state.items()):
        if sql.sqlite and value_size(value) > PIECE:
            big.append((name, value))
        else:
            rows.append((source, name, run_id, "", b"".join(value_parts(value))))
    insert = "INSERT INTO sync_state (source, name, run_id, cursor, data) VALUES ({})"
    sql.conn.exec_driver_sql(insert.format(sql.params(5)), rows)
    for name, value in big:
        row = sql.conn.exec_driver_sql(
            insert.format("?, ?, ?, '', zeroblob(?)"), (source, name, run_id, value_size(value))
        ).lastrowid
        with _driver(sql.conn).blobopen("sync_state", "data", row) as blob:
            for part in value_parts(value):
                for at in range(0, part.nbytes, PIECE):
                    blob.write(part[at : at + PIECE])


def _read_in_pieces(conn: sa.Connection, row: int, cut: Cut) -> list[Any]:
    """A big value of ``sync_state`` cut as :func:`cut_value` does, each part read a piece
    at a time into a buffer of its own (SQLite; bytes-like: read as bytes are)."""
    with _driver(conn).blobopen("sync_state", "data", row, readonly=True) as blob:
        parts = [blob.read(min(cut[0], len(blob)))]
        for size in cut[1](memoryview(parts[0])):
            left = len(blob) - blob.tell()
            out = bytearray(left if size < 0 else min(size, left))
            view = memoryview(out)
            for at in range(0, len(out), PIECE):
                view[at : at + PIECE] = blob.read(min(PIECE, len(out) - at))
            parts.append(out)
    return parts


def _driver(conn: sa.Connection) -> Any:
    """The sqlite3 connection under ``conn``."""
    return conn.connection.driver_connection
