"""Writing the changed appointments, a chunk at a time and column by column, and
cancelling those gone from the export."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress, repeat
from operator import is_

import numpy as np
import numpy.typing as npt

from linker_tui.ingest.pms_export import AppointmentColumns, AppointmentRow, RowProblem
from linker_tui.store.enums import AppointmentStatus
from linker_tui.sync.connector import AppointmentBlock, TableChanges, merged_block
from linker_tui.sync.sql import RunSql, written_columns
from linker_tui.sync.writers import TableWriter, each_once, indexes_rebuilt

APPOINTMENT_COLUMNS = written_columns("appointment")
CANCELLED = AppointmentStatus.CANCELLED.value
# Cancel appointments missing from the export only when they are few: a truncated export
# must not cancel half the schedule. More than this share (and more than _GUARD_MIN) is
# reported as a problem instead.
_GUARD_SHARE, _GUARD_MIN = 0.5, 100


class WrittenIds:
    """The appointment ids written, kept as their 64-bit hashes (8 bytes each; sorted in
    place when first asked about), of the ``watched`` patients' appointments alone when
    given: the flags of waiting requests ask only about their patients' appointments,
    so a run that rewrites a million rows keeps a few. Two ids of one hash (once in
    2^64) make an id not written look written: it is only looked at again for those
    flags, which say what the PMS has. ``every_stored``: the table was empty before the
    run, so every id stored now was written (nothing is kept: a first import's million
    ids cost nothing). An appointment of a patient not watched (a request set waiting
    while the run went on) counts as written too."""

    def __init__(self, *, every_stored: bool = False, watched: Set[int] | None = None) -> None:
        self.every_stored = every_stored
        self.watched = watched
        self._count = 0
        self._hashes = array("q")
        self._sorted: npt.NDArray[np.int64] | None = None

    def add(self, ids: Sequence[str], patients: Sequence[int | None]) -> None:
        """Add these ids (of appointments of these patients)."""
        self._count += len(ids)
        if self.every_stored or self.watched == frozenset():
            return
        if self.watched is not None:
            watched = self.watched
            ids = [i for i, patient in zip(ids, patients, strict=True) if patient in watched]
        if ids:
            self._sorted = None  # (a view of the hashes: let go before they grow)
            self._hashes.extend(map(hash, ids))

    def __bool__(self) -> bool:
        return self._count > 0

    def has(self, pms_id: str, patient_id: int | None) -> bool:
        """Whether the run wrote this appointment (of this patient)."""
        if self.every_stored or (self.watched is not None and patient_id not in self.watched):
            return True
        if self._sorted is None:  # (sorted in place as an array: no copy, no int per id)
            self._sorted = np.frombuffer(self._hashes, np.int64)
            self._sorted.sort()
        wanted = hash(pms_id)
        at = int(np.searchsorted(self._sorted, wanted))
        return at < len(self._sorted) and int(self._sorted[at]) == wanted


@dataclass
class AppointmentsWritten:
    """What writing the changed appointments did."""

    inserted: int = 0
    updated: int = 0
    newly_cancelled: int = 0  # were not cancelled before
    refused: list[RowProblem] = field(default_factory=list)  # unknown patient or provider
    ids: WrittenIds = field(default_factory=WrittenIds)


@dataclass
class _Chunks:
    """What stays the same from one chunk of appointments to the next."""

    sql: RunSql
    table: TableChanges[AppointmentRow]
    patients: dict[str, int]  # pms_id → id
    providers: dict[str, int]
    existing: set[str]  # pms_ids stored before the run
    writer: TableWriter


def write_appointments(
    sql: RunSql, table: TableChanges[AppointmentRow], watched: Set[int] | None = None
) -> AppointmentsWritten:
    """Write the changed appointments (the ids of the ``watched`` patients' appointments
    kept: :class:`WrittenIds`). Converted a chunk at a time, a column at a time; a chunk
    with an unknown reference is checked row by row (those rows are refused)."""
    if table.batches is not None:
        return _write_batches(sql, table, table.batches, watched)
    block = appointment_block(table)
    out = AppointmentsWritten(ids=WrittenIds(watched=watched))
    if not len(block):
        return out
    pms_ids = block.columns.pms_id
    existing = sql.existing_ids("appointment", pms_ids)
    writer = TableWriter(sql, "appointment", existing, each_once(pms_ids, sql))
    chunks = _Chunks(sql, table, _patient_ids(sql, block), _provider_ids(sql), existing, writer)
    with indexes_rebuilt(sql, "appointment", len(block) - len(existing), len(existing)):
        for start in range(0, len(block), sql.rows_per_statement):
            sql.stop.check()
            _write_chunk(chunks, block.slice(start, start + sql.rows_per_statement), out)
    out.inserted, out.updated = writer.inserted, writer.updated
    return out


def _write_batches(
    sql: RunSql,
    table: TableChanges[AppointmentRow],
    batches: Iterator[AppointmentBlock],
    watched: Set[int] | None,
) -> AppointmentsWritten:
    """Write the changed appointments a batch at a time as the connector reads them (a
    big import): each id comes once in the whole export (the connector sees to it)."""
    empty = not sql.conn.exec_driver_sql("SELECT 1 FROM appointment LIMIT 1").first()
    out = AppointmentsWritten(ids=WrittenIds(every_stored=empty, watched=watched))
    writer = TableWriter(sql, "appointment", set(), True)
    chunks = _Chunks(sql, table, {}, _provider_ids(sql), set(), writer)
    with indexes_rebuilt(sql, "appointment", sql.rebuild_indexes_over if empty else 0, 0):
        for batch in batches:
            pms_ids = batch.columns.pms_id
            existing = set() if empty else sql.existing_ids("appointment", pms_ids)
            chunks.existing = writer.existing = existing
            writer.unique = each_once(pms_ids, sql)
            chunks.patients = _patient_ids(sql, batch)
            for start in range(0, len(batch), sql.rows_per_statement):
                sql.stop.check()
                _write_chunk(chunks, batch.slice(start, start + sql.rows_per_statement), out)
    out.inserted, out.updated = writer.inserted, writer.updated
    return out


def _provider_ids(sql: RunSql) -> dict[str, int]:
    rows = sql.conn.exec_driver_sql("SELECT pms_id, id FROM provider")
    return {pms_id: id_ for pms_id, id_ in rows}


def _patient_ids(sql: RunSql, block: AppointmentBlock) -> dict[str, int]:
    """``pms_id → id`` of the patients of these appointments (at least)."""
    patients = sql.whole_id_maps.get("patient")  # loaded by the patients' writing of this run
    if patients is not None:
        return patients
    wanted: set[str] = set()
    step = sql.rows_per_statement
    for start in range(0, len(block), step):
        wanted.update(block.columns.patient_pms_id[start : start + step])
    return sql.id_map("patient", sorted(wanted))


def _write_chunk(chunks: _Chunks, part: AppointmentBlock, out: AppointmentsWritten) -> None:
    sql = chunks.sql
    got = part.columns
    patient_ids = list(map(chunks.patients.get, got.patient_pms_id))
    provider_ids = list(map(chunks.providers.get, got.provider_pms_id))
    if None in patient_ids or None in provider_ids:
        keep = known_references(chunks.table, part, patient_ids, provider_ids, out.refused)
        got = AppointmentColumns()
        got.extend(part.columns, keep)
        patient_ids = list(compress(patient_ids, keep))
        provider_ids = list(compress(provider_ids, keep))
    if chunks.existing:
        out.newly_cancelled += _newly_cancelled(sql, got, chunks.existing)
    out.ids.add(got.pms_id, patient_ids)
    chunks.writer.write_columns(
        {
            "pms_id": got.pms_id,
            "patient_id": patient_ids,
            "provider_id": provider_ids,
            "start": got.start,
            "duration_min": got.duration_min,
            "operatory": got.operatory,
            "reason": got.reason,
            "status": got.status,
            "pms_updated_at": got.updated_at,
        }
    )


def _newly_cancelled(sql: RunSql, got: AppointmentColumns, existing: set[str]) -> int:
    """How many of these appointments are stored and were not cancelled until now."""
    cancelled = AppointmentStatus.CANCELLED
    ids = [
        pms_id
        for pms_id in compress(got.pms_id, map(is_, got.status, repeat(cancelled)))
        if pms_id in existing
    ]
    sql_text = f"SELECT id FROM appointment WHERE status <> {sql.param} AND pms_id IN ({{}})"
    return len(sql.select_in(sql_text, ids, (CANCELLED,)))


def appointment_block(table: TableChanges[AppointmentRow]) -> AppointmentBlock:
    """All changed appointments of ``table`` column by column, in the order of their
    keys (``changed`` merged into ``block``)."""
    return merged_block(table.changed, table.block)


def known_references(
    table: TableChanges[AppointmentRow],
    part: AppointmentBlock,
    patient_ids: Sequence[int | None],
    provider_ids: Sequence[int | None],
    refused: list[RowProblem],
) -> list[bool]:
    """Per row, whether its patient and provider are known; the others are refused (a
    problem each, and read again next time)."""
    keep: list[bool] = []
    columns = part.columns
    for patient, provider, line, key, patient_id, provider_id in zip(
        columns.patient_pms_id,
        columns.provider_pms_id,
        part.lines,
        part.keys,
        patient_ids,
        provider_ids,
        strict=True,
    ):
        reason = ""
        if patient_id is None:
            reason = f"unknown patient {patient!r}"
        elif provider and provider_id is None:
            reason = f"unknown provider {provider!r}"
        if reason:
            refused.append(RowProblem(table.file, line, reason))
            table.refused.add(key)
        keep.append(not reason)
    return keep


def cancel_vanished(
    sql: RunSql, table: TableChanges[AppointmentRow], window: tuple[datetime, datetime] | None
) -> tuple[dict[int, str], RowProblem | None]:
    """Cancel the appointments gone from the export inside ``window``; returns
    ``{id: pms_id}`` of those cancelled, or a problem when suspiciously many are gone."""
    if window is None or not table.readable or not table.removed_ids:
        return {}, None
    first, last = window
    rows = sql.select_in(
        f"SELECT id, pms_id, start FROM appointment WHERE status <> {sql.param} "
        "AND pms_id IN ({})",
        sorted(table.removed_ids),
        (CANCELLED,),
    )
    gone = {i: pms_id for i, pms_id, start in rows if first <= sql.read_datetime(start) <= last}
    if gone and not table.complete:
        return {}, RowProblem(
            table.file,
            0,
            f"{len(gone)} appointment(s) missing from the export were not cancelled: "
            "the file has rows that could not be read",
        )
    if len(gone) > _GUARD_MIN and len(gone) > table.previous * _GUARD_SHARE:
        return {}, RowProblem(
            table.file,
            0,
            f"{len(gone)} of {table.previous} appointments are missing from the export; "
            "they were not cancelled (a partial export?)",
        )
    ids = sorted(gone)
    step = sql.values_per_in_list
    for start in range(0, len(ids), step):
        chunk = tuple(ids[start : start + step])
        sql.conn.exec_driver_sql(
            f"UPDATE appointment SET status = {sql.param} WHERE id IN ({sql.params(len(chunk))})",
            (CANCELLED, *chunk),
        )
    return gone, None
