"""Writing a table's changed rows: plain inserts for new ids, ``INSERT … ON CONFLICT DO
UPDATE … WHERE`` a column differs for the others, a chunk at a time; providers and
patients (with their search keys)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import compress, repeat
from operator import is_
from typing import Any

import sqlalchemy as sa

from linker_tui.ingest.pms_export import PatientRow, ProviderRow
from linker_tui.matching import patient_keys
from linker_tui.store.tables import metadata
from linker_tui.sync.connector import Changed, TableChanges
from linker_tui.sync.sql import Convert, RunSql, written_columns

PROVIDER_COLUMNS = written_columns("provider")
PATIENT_COLUMNS = written_columns("patient")
_REMEMBERED = 100_000  # values as stored remembered per column at most (then forgotten)
_MISSING: Any = object()


def upsert(sql: RunSql, table: str, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Write rows (a value per column of :func:`written_columns`); returns (inserted,
    updated)."""
    if not rows:
        return 0, 0
    return upsert_chunks(sql, table, [r["pms_id"] for r in rows], [rows])


def upsert_chunks(
    sql: RunSql, table: str, ids: Sequence[str], chunks: Iterable[list[dict[str, Any]]]
) -> tuple[int, int]:
    """Write rows given a chunk at a time, each chunk made as it is written (a big
    import's rows are never all held); ``ids``: the ids of all of them. Returns
    (inserted, updated)."""
    existing = sql.existing_ids(table, ids)
    writer = TableWriter(sql, table, existing, each_once(ids, sql))
    with indexes_rebuilt(sql, table, len(ids) - len(existing), len(existing)):
        for rows in chunks:
            writer.write_columns({c: [r[c] for r in rows] for c in writer.columns})
    return writer.inserted, writer.updated


class TableWriter:
    """Writes rows of a table a chunk at a time. When each id comes once (``unique``),
    the rows whose id is not in the table yet (not in ``existing``) are plainly inserted
    (the run holds the write lock: SQLite's, and on PostgreSQL the sync's own), the others
    upserted; otherwise all are upserted. Statements and conversions come from the
    table's metadata (:meth:`RunSql.statements`)."""

    plain_inserts = True  # False: new rows are upserted too (the tests compare the two)

    def __init__(self, sql: RunSql, table: str, existing: set[str], unique: bool) -> None:
        self.sql = sql
        self.table = table
        self.existing = existing
        self.unique = unique
        statements = sql.statements(table)
        self.columns = statements.columns
        self.convert = statements.convert
        self.insert_sql = statements.insert if self.plain_inserts else statements.upsert
        self.upsert_sql = statements.upsert
        self.inserted = self.updated = 0
        self._stored: dict[str, dict[Any, Any]] = {c: {} for c in self.convert}

    def write_columns(self, values: Mapping[str, Sequence[Any]]) -> None:
        """Write rows given column by column (every column of :attr:`columns`), each
        value converted as its column's type stores it."""
        columns = [self._as_stored(c, values[c]) for c in self.columns]
        self.write(list(zip(*columns, strict=True)))

    def _as_stored(self, column: str, values: Sequence[Any]) -> Sequence[Any]:
        """The (repeating) values of a column as it stores them; remembered."""
        convert = self.convert.get(column)
        if convert is None:
            return values
        return as_stored(convert, values, self._stored[column])

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Write these rows, values as stored in the order of :attr:`columns` (each id
        once in a run)."""
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
    indexes = list(metadata.tables[table].indexes)
    for index in indexes:
        sql.conn.exec_driver_sql(f"DROP INDEX IF EXISTS {sql.quote(str(index.name))}")
    yield
    for index in indexes:
        sql.stop.check()
        sql.conn.execute(sa.schema.CreateIndex(index))


def write_providers(sql: RunSql, table: TableChanges[ProviderRow]) -> tuple[int, int]:
    """Write the changed providers; returns (inserted, updated)."""
    rows = [
        {
            "pms_id": p.pms_id,
            "abbr": p.abbr,
            "first_name": p.first_name,
            "last_name": p.last_name,
            "title": p.title,
            "active": p.active,
        }
        for p in (c.row for c in table.changed)
    ]
    return upsert(sql, "provider", rows)


def write_patients(sql: RunSql, table: TableChanges[PatientRow], region: str) -> tuple[int, int]:
    """Write the changed patients with their search keys, a chunk of rows at a time (a
    batch at a time as the connector reads them: :attr:`TableChanges.row_batches`);
    returns (inserted, updated)."""
    if table.row_batches is not None:
        return _write_patient_batches(sql, table.row_batches, region)
    patients = [c.row for c in table.changed]
    if not patients:
        return 0, 0
    ids = [p.pms_id for p in patients]
    alt_keys: dict[str, frozenset[str]] = {}
    step = sql.rows_per_statement
    chunks = (
        _patient_rows(sql, patients[start : start + step], region, alt_keys)
        for start in range(0, len(patients), step)
    )
    counts = upsert_chunks(sql, "patient", ids, chunks)
    _write_name_keys(sql, sql.id_map("patient", ids), alt_keys)
    return counts


def _write_patient_batches(
    sql: RunSql, batches: Iterable[list[Changed[PatientRow]]], region: str
) -> tuple[int, int]:
    """Write the changed patients a batch at a time as the connector reads them (a big
    import): each id comes once in the whole export (the connector sees to it)."""
    empty = not sql.conn.exec_driver_sql("SELECT 1 FROM patient LIMIT 1").first()
    writer = TableWriter(sql, "patient", set(), True)
    with indexes_rebuilt(sql, "patient", sql.rebuild_indexes_over if empty else 0, 0):
        for batch in batches:
            patients = [c.row for c in batch]
            ids = [p.pms_id for p in patients]
            writer.existing = set() if empty else sql.existing_ids("patient", ids)
            writer.unique = each_once(ids, sql)
            alt_keys: dict[str, frozenset[str]] = {}
            for start in range(0, len(patients), sql.rows_per_statement):
                rows = _patient_rows(
                    sql, patients[start : start + sql.rows_per_statement], region, alt_keys
                )
                writer.write_columns({c: [r[c] for r in rows] for c in writer.columns})
            _write_name_keys(sql, sql.id_map("patient", ids), alt_keys)
    return writer.inserted, writer.updated


def _patient_rows(
    sql: RunSql, patients: Sequence[PatientRow], region: str, alt_keys: dict[str, frozenset[str]]
) -> list[dict[str, Any]]:
    """The rows of these patients (a chunk); the other keys of their last names go into
    ``alt_keys``."""
    sql.stop.check()
    rows = []
    for p in patients:
        row, alts = _patient_row(p, region)
        rows.append(row)
        if alts:
            alt_keys[p.pms_id] = alts
    return rows


def _patient_row(p: PatientRow, region: str) -> tuple[dict[str, Any], frozenset[str]]:
    """A patient's row and the other keys of its last name."""
    k = patient_keys(
        p.first_name, p.last_name, p.preferred_name, p.email, p.phone_home, p.phone_mobile, region
    )
    row = {
        "pms_id": p.pms_id,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "preferred_name": p.preferred_name,
        "first_name_key": k.first_name_key,
        "last_name_key": k.last_name_key,
        "preferred_name_key": k.preferred_name_key,
        "last_name_sound": k.last_name_sound,
        "email_key": k.email_key,
        "phone_home_key": k.phone_home_key,
        "phone_mobile_key": k.phone_mobile_key,
        "birthdate": p.birthdate,
        "email": p.email,
        "phone_home": p.phone_home,
        "phone_mobile": p.phone_mobile,
        "guarantor_pms_id": p.guarantor_pms_id,
        "no_email": p.no_email,
    }
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


def as_stored(convert: Convert, values: Sequence[Any], stored: dict[Any, Any]) -> list[Any]:
    """These (repeating) values converted; ``stored`` remembers (at most _REMEMBERED)."""
    out = list(map(stored.get, values, repeat(_MISSING)))
    if any(map(is_, out, repeat(_MISSING))):
        if len(stored) > _REMEMBERED:  # a big import: its memory stays bounded
            stored.clear()
        for value in set(compress(values, map(is_, out, repeat(_MISSING)))):
            stored[value] = convert(value)
        out = list(map(stored.__getitem__, values))
    return out
