"""Writing a table's changed rows: plain inserts for new ids, ``INSERT … ON CONFLICT DO
UPDATE … WHERE`` a column differs for the others, a chunk at a time; providers and
patients (with their search keys)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from linker_tui.ingest.pms_export import PatientRow, ProviderRow
from linker_tui.matching import patient_keys
from linker_tui.sync.connector import TableChanges
from linker_tui.sync.sql import RunSql

PROVIDER_COLUMNS = ("pms_id", "abbr", "first_name", "last_name", "title", "active")
PATIENT_COLUMNS = (
    "pms_id",
    "first_name",
    "last_name",
    "preferred_name",
    "first_name_key",
    "last_name_key",
    "preferred_name_key",
    "last_name_sound",
    "email_key",
    "phone_home_key",
    "phone_mobile_key",
    "birthdate",
    "email",
    "phone_home",
    "phone_mobile",
    "guarantor_pms_id",
    "no_email",
)


def upsert(
    sql: RunSql, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> tuple[int, int]:
    """Write rows; returns (inserted, updated)."""
    if not rows:
        return 0, 0
    ids = [r[0] for r in rows]
    existing = sql.existing_ids(table, ids)
    writer = TableWriter(sql, table, columns, existing, each_once(ids, sql))
    with indexes_rebuilt(sql, table, len(rows) - len(existing), len(existing)):
        writer.write(rows)
    return writer.inserted, writer.updated


class TableWriter:
    """Writes rows of a table a chunk at a time. When each id comes once (``unique``),
    the rows whose id is not in the table yet (not in ``existing``) are plainly inserted
    (the run holds the write lock: SQLite's, and on PostgreSQL the sync's own), the others
    upserted; otherwise all are upserted."""

    def __init__(
        self, sql: RunSql, table: str, columns: Sequence[str], existing: set[str], unique: bool
    ) -> None:
        self.sql = sql
        self.table = table
        self.existing = existing
        self.unique = unique
        self.insert_sql = sql.insert_sql(table, columns)
        self.upsert_sql = sql.upsert_sql(table, columns)
        self.inserted = self.updated = 0

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Write these rows (each id once in a run)."""
        self.sql.whole_id_maps.pop(self.table, None)
        existing = self.existing
        if existing:
            fresh = [r for r in rows if r[0] not in existing]
            known = [r for r in rows if r[0] in existing] if self.unique else rows
        else:
            fresh, known = rows, [] if self.unique else rows
        if self.unique:
            self.sql.execute_chunked(self.insert_sql, fresh)
            self.updated += self.sql.execute_chunked(self.upsert_sql, known)
        else:
            self.updated += self.sql.execute_chunked(self.upsert_sql, known) - len(fresh)
        self.inserted += len(fresh)


def each_once(ids: Sequence[str], sql: RunSql) -> bool:
    """Whether each id comes once (a chunk at a time, with a stop check between)."""
    seen: set[str] = set()
    step = sql.rows_per_statement
    for start in range(0, len(ids), step):
        sql.stop.check()
        part = ids[start : start + step]
        before = len(seen)
        seen.update(part)
        if len(seen) - before != len(part):
            return False
    return True


@contextmanager
def indexes_rebuilt(sql: RunSql, table: str, new: int, existing: int) -> Iterator[None]:
    """A bulk load (the first import) into a table that is empty or nearly so: on SQLite,
    drop its secondary indexes and build them again afterwards (sorting once beats
    inserting a million keys in random order). In the run's transaction: a failure puts
    them back; readers (WAL) keep seeing the previous state meanwhile."""
    if not sql.sqlite or new < sql.rebuild_indexes_over or new < 4 * existing:
        yield
        return
    indexes = list(SQLModel.metadata.tables[table].indexes)
    for index in indexes:
        sql.conn.exec_driver_sql(f"DROP INDEX IF EXISTS {sql.quote(str(index.name))}")
    yield
    for index in indexes:
        sql.stop.check()
        sql.conn.execute(sa.schema.CreateIndex(index))


def write_providers(sql: RunSql, table: TableChanges[ProviderRow]) -> tuple[int, int]:
    """Write the changed providers; returns (inserted, updated)."""
    rows = [
        (p.pms_id, p.abbr, p.first_name, p.last_name, p.title, p.active)
        for p in (c.row for c in table.changed)
    ]
    return upsert(sql, "provider", PROVIDER_COLUMNS, rows)


def write_patients(sql: RunSql, table: TableChanges[PatientRow], region: str) -> tuple[int, int]:
    """Write the changed patients with their search keys; returns (inserted, updated)."""
    rows: list[tuple[Any, ...]] = []
    alt_keys: dict[str, frozenset[str]] = {}
    for done, p in enumerate(c.row for c in table.changed):
        if done % sql.rows_per_statement == 0:
            sql.stop.check()
        row, alts = _patient_row(sql, p, region)
        rows.append(row)
        if alts:
            alt_keys[p.pms_id] = alts
    counts = upsert(sql, "patient", PATIENT_COLUMNS, rows)
    if rows:
        _write_name_keys(sql, sql.id_map("patient", [r[0] for r in rows]), alt_keys)
    return counts


def _patient_row(sql: RunSql, p: PatientRow, region: str) -> tuple[tuple[Any, ...], frozenset[str]]:
    """A patient's row (``PATIENT_COLUMNS``) and the other keys of its last name."""
    k = patient_keys(
        p.first_name, p.last_name, p.preferred_name, p.email, p.phone_home, p.phone_mobile, region
    )
    row = (
        p.pms_id,
        p.first_name,
        p.last_name,
        p.preferred_name,
        k.first_name_key,
        k.last_name_key,
        k.preferred_name_key,
        k.last_name_sound,
        k.email_key,
        k.phone_home_key,
        k.phone_mobile_key,
        sql.stored_date(p.birthdate),
        p.email,
        p.phone_home,
        p.phone_mobile,
        p.guarantor_pms_id,
        p.no_email,
    )
    return row, k.last_name_alt_keys


def _write_name_keys(sql: RunSql, ids: dict[str, int], alt_keys: dict[str, frozenset[str]]) -> None:
    """Replace the other last-name keys of these patients (``pms_id → id``)."""
    patient_ids = sorted(ids.values())
    if sql.conn.exec_driver_sql("SELECT 1 FROM patient_name_key LIMIT 1").first():
        step = sql.values_per_in_list
        for start in range(0, len(patient_ids), step):
            chunk = tuple(patient_ids[start : start + step])
            sql.conn.exec_driver_sql(
                f"DELETE FROM patient_name_key WHERE patient_id IN ({sql.params(len(chunk))})",
                chunk,
            )
    keys = [(ids[pms_id], key) for pms_id, alts in alt_keys.items() for key in sorted(alts)]
    sql.execute_chunked(
        f"INSERT INTO patient_name_key (patient_id, {sql.quote('key')}) VALUES ({sql.params(2)})",
        keys,
    )
