"""SQL on a sync run's connection: statements in chunks with a stop check between them,
id lookups, and the table writes' statements and value conversions, derived from the
tables' metadata and column types (:meth:`RunSql.statements`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from linker_tui.store.tables import UTCDateTime, metadata
from linker_tui.sync.control import StopFlag

Convert = Callable[[Any], Any]


def written_columns(table: str) -> tuple[str, ...]:
    """The columns a sync writes to ``table``: all but its generated primary key."""
    return tuple(c.name for c in metadata.tables[table].columns if not c.primary_key)


@dataclass(frozen=True)
class TableStatements:
    """How rows of a table are written: its columns (:func:`written_columns`), a plain
    insert and an upsert of them (positional parameters in that order), and per column
    that needs it, how a value becomes what the column stores (its type's conversion)."""

    columns: tuple[str, ...]
    insert: str
    upsert: str
    convert: dict[str, Convert]


def _bind(column_type: sa.types.TypeEngine[Any], dialect: Dialect) -> Convert | None:
    """The column type's conversion of a value to what the driver is given (None: as is)."""
    return column_type.dialect_impl(dialect).bind_processor(dialect)


class RunSql:
    """Plain SQL on the run's connection: dialect details, chunking, stop checks."""

    rows_per_statement = 5_000  # rows per executemany (a stop is noticed between them)
    values_per_in_list = 500  # values per IN (...) list
    whole_table_over = 20_000  # look up more ids than this: read the whole id column
    rebuild_indexes_over = 50_000  # new rows from which a (nearly) empty table is bulk-loaded

    def __init__(self, conn: sa.Connection, stop: StopFlag) -> None:
        self.conn = conn
        self.stop = stop
        self.sqlite = conn.dialect.name == "sqlite"
        self.param = "?" if self.sqlite else "%s"
        # table → its whole ``pms_id → id`` map, while no write has made it stale
        self.whole_id_maps: dict[str, dict[str, int]] = {}
        dialect = conn.dialect
        timestamps = UTCDateTime()
        self._datetime_in = _bind(timestamps, dialect)
        self._datetime_out = timestamps.dialect_impl(dialect).result_processor(dialect, None)
        self._date_in = _bind(sa.Date(), dialect)

    def params(self, count: int) -> str:
        """``?, ?, ?``."""
        return ", ".join([self.param] * count)

    def quote(self, name: str) -> str:
        """A column name quoted for the dialect."""
        return str(self.conn.dialect.identifier_preparer.quote(name))

    def stored_datetime(self, value: datetime | None) -> Any:
        """A timezone-aware datetime as a ``UTCDateTime`` column stores it (a parameter of
        plain SQL)."""
        return self._datetime_in(value) if self._datetime_in is not None else value

    def read_datetime(self, value: Any) -> datetime:
        """A ``UTCDateTime`` column's value read with plain SQL, as the ORM reads it."""
        out = self._datetime_out(value) if self._datetime_out is not None else value
        assert isinstance(out, datetime)
        return out

    def stored_date(self, value: date | None) -> Any:
        """A date as a ``Date`` column stores it."""
        return self._date_in(value) if self._date_in is not None else value

    def statements(self, name: str) -> TableStatements:
        """The insert and the upsert of the columns a sync writes to table ``name`` (the
        upsert updates a row only where a column differs, so its row count says what was
        written), made by SQLAlchemy from the table's metadata for this dialect."""
        table = metadata.tables[name]
        columns = written_columns(name)
        dialect = self.conn.dialect
        if not dialect.positional:  # executemany with tuples: "%s" placeholders
            make: Any = type(dialect)
            dialect = make(paramstyle="format")
        insert = (sqlite.insert if self.sqlite else postgresql.insert)(table).inline()
        data = [c for c in columns if c != "pms_id"]
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.pms_id],
            set_={c: insert.excluded[c] for c in data},
            where=sa.or_(*(table.c[c].is_distinct_from(insert.excluded[c]) for c in data)),
        )
        texts = []
        for statement in (insert, upsert):
            compiled = statement.compile(dialect=dialect, column_keys=list(columns))
            assert tuple(compiled.positiontup or ()) == columns, compiled.positiontup
            texts.append(str(compiled))
        convert = {c: _bind(table.c[c].type, self.conn.dialect) for c in columns}
        return TableStatements(
            columns, texts[0], texts[1], {c: f for c, f in convert.items() if f is not None}
        )

    def execute_chunked(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """``executemany`` in chunks; returns the rows changed."""
        total = 0
        for start in range(0, len(rows), self.rows_per_statement):
            self.stop.check()
            chunk = list(rows[start : start + self.rows_per_statement])
            result = self.conn.exec_driver_sql(sql, chunk)
            total += max(result.rowcount, 0)
        return total

    def select_in(
        self, sql: str, values: Sequence[Any], before: tuple[Any, ...] = ()
    ) -> list[sa.Row[Any]]:
        """Run ``sql`` (with ``{}`` where the IN list goes) for chunks of ``values``."""
        rows: list[sa.Row[Any]] = []
        for start in range(0, len(values), self.values_per_in_list):
            chunk = tuple(values[start : start + self.values_per_in_list])
            statement = sql.format(self.params(len(chunk)))
            rows.extend(self.conn.exec_driver_sql(statement, before + chunk).all())
        return rows

    def id_map(self, table: str, pms_ids: Sequence[str]) -> dict[str, int]:
        """``pms_id → id`` for these ids (or the whole table when they are many)."""
        if not pms_ids:
            return {}
        if len(pms_ids) > self.whole_table_over:
            rows = self.conn.exec_driver_sql(f"SELECT pms_id, id FROM {table}").all()
            whole = self.whole_id_maps[table] = {pms_id: id_ for pms_id, id_ in rows}
            return whole
        rows = self.select_in(f"SELECT pms_id, id FROM {table} WHERE pms_id IN ({{}})", pms_ids)
        return {pms_id: id_ for pms_id, id_ in rows}

    def existing_ids(self, table: str, pms_ids: Sequence[str]) -> set[str]:
        """Which of these ``pms_id`` are in ``table`` already."""
        if not pms_ids:
            return set()
        if len(pms_ids) > self.whole_table_over:
            if not self.conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first():
                return set()
            return {r[0] for r in self.conn.exec_driver_sql(f"SELECT pms_id FROM {table}")}
        sql = f"SELECT pms_id FROM {table} WHERE pms_id IN ({{}})"
        return {r[0] for r in self.select_in(sql, pms_ids)}

    @contextmanager
    def big_cache(self, kib: int = 16_384) -> Iterator[None]:
        """A bigger page cache on SQLite while writing many rows (then back): 16 MiB,
        which also bounds the sort of an index built again (beyond it SQLite sorts in
        runs merged from a temporary file)."""
        if not self.sqlite:
            self.conn.exec_driver_sql("SET LOCAL statement_timeout = '15min'")
            yield
            return
        before = self.conn.exec_driver_sql("PRAGMA cache_size").scalar()
        self.conn.exec_driver_sql(f"PRAGMA cache_size = {-int(kib)}")
        try:
            yield
        finally:
            self.conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")
