"""Plain SQL on a sync run's connection: the dialect's placeholders and value formats,
statements in chunks with a stop check between them, id lookups."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from linker_tui.sync.control import StopFlag


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
        self.differs = "IS NOT" if self.sqlite else "IS DISTINCT FROM"
        # table → its whole ``pms_id → id`` map, while no write has made it stale
        self.whole_id_maps: dict[str, dict[str, int]] = {}

    def params(self, count: int) -> str:
        """``?, ?, ?``."""
        return ", ".join([self.param] * count)

    def quote(self, name: str) -> str:
        """A column name quoted for the dialect."""
        return str(self.conn.dialect.identifier_preparer.quote(name))

    def stored_datetime(self, value: datetime | None) -> Any:
        """A timezone-aware datetime as the column stores it (see ``UTCDateTime``)."""
        if value is None:
            return None
        if not self.sqlite:
            return value
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        text = value.isoformat(" ")  # "2026-12-03 14:30:00+00:00", or with microseconds
        return text[:19] + ".000000" if len(text) == 25 else text[:26]

    def read_datetime(self, value: Any) -> datetime:
        """A datetime column value read with plain SQL, timezone-aware."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def stored_date(self, value: date | None) -> Any:
        """A date as the column stores it."""
        if value is None:
            return None
        return value.isoformat() if self.sqlite else value

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

    def insert_sql(self, table: str, columns: Sequence[str]) -> str:
        """A plain insert."""
        names = ", ".join(self.quote(c) for c in columns)
        return f"INSERT INTO {table} ({names}) VALUES ({self.params(len(columns))})"

    def upsert_sql(self, table: str, columns: Sequence[str]) -> str:
        """Insert, or update when a column differs: the row count says what was written."""
        data = [self.quote(c) for c in columns if c != "pms_id"]
        names = ", ".join(self.quote(c) for c in columns)
        sets = ", ".join(f"{c} = excluded.{c}" for c in data)
        differs = " OR ".join(f"{table}.{c} {self.differs} excluded.{c}" for c in data)
        return (
            f"INSERT INTO {table} ({names}) VALUES ({self.params(len(columns))}) "
            f"ON CONFLICT (pms_id) DO UPDATE SET {sets} WHERE {differs}"
        )

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
    def big_cache(self) -> Iterator[None]:
        """A 64 MiB page cache on SQLite while writing many rows (then back)."""
        if not self.sqlite:
            self.conn.exec_driver_sql("SET LOCAL statement_timeout = '15min'")
            yield
            return
        before = self.conn.exec_driver_sql("PRAGMA cache_size").scalar()
        self.conn.exec_driver_sql("PRAGMA cache_size = -65536")
        try:
            yield
        finally:
            self.conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")
