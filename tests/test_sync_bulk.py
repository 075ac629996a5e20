"""The bulk reading of an export (column by column) gives exactly what the row-by-row
reading gives: the same rows, problems, database and connector state."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.ingest import csv_file
from linker_tui.ingest.pms_export import (
    APPOINTMENTS_FILE,
    AppointmentColumns,
    BadRow,
    ExportFormat,
    IgnoredRow,
    RowParser,
)
from linker_tui.store.schema import create_schema, drop_schema
from linker_tui.sync.csv_changes import FileReader
from linker_tui.sync.sql import RunSql
from linker_tui.sync.summary import SyncSummary
from linker_tui.sync.writers import TableWriter
from tests.builders import TZ
from tests.sync_support import APPOINTMENT_HEADER, ExportData, make_sync, patient, provider

# ----------------------------------------------------------------- a messy export

_REASONS = ["Cleaning", "Filling, composite", 'Said "ouch"', "Root canal,\nsecond visit", " x "]
_STATUSES = ["scheduled", "Confirmed", " completed ", "cancelled", "PtNote", "tentative", ""]
_STARTS = ["2026-12-03T09:30", "2026-11-20T09:00", "2026-12-04 10:00", "12/05/2026", ""]
_UPDATED = ["2026-11-20T10:00:00Z", "", "2026-11-21T10:00:00-05:00", "yesterday", "2026-11-22"]
_DURATIONS = ["60", "", "0", "x", " 30 ", "-5"]


def _messy(rng: random.Random, count: int) -> tuple[ExportData, list[bytes]]:
    """An export with every kind of bad row, and raw lines to append to appointments.csv
    (broken encoding, blank lines, too few or many values)."""
    data = ExportData(
        providers=[provider("DOC1"), provider("DOC2", "Rahul", "Patel")],
        patients=[patient(str(1000 + i), "Pat", f"Num{i}") for i in range(12)],
    )
    data.patients.append(patient("", "No", "Id"))
    data.patients.append(patient("1100", "Bad", "Date", "1980-13-45"))
    data.patients.append(patient("1001", "Twice", "Again"))  # a duplicate id
    ids = [f"A{i}" for i in range(count // 2)] + ["", " A1 ", "A\0Z"]
    for _ in range(count):
        good = rng.random() < 0.7

        def pick(good_value: str, choices: Sequence[str], good: bool = good) -> str:
            return good_value if good else rng.choice(choices)

        data.appointments.append(
            [
                rng.choice(ids),
                pick(str(1000 + rng.randrange(12)), ["9999", "", "1100"]),
                pick(rng.choice(["DOC1", "DOC2"]), ["", "DOC9", " DOC1"]),
                pick(f"2026-12-{rng.randrange(1, 28):02d}T{rng.randrange(8, 18):02d}:00", _STARTS),
                pick("60", _DURATIONS),
                rng.choice(["OP1", " OP2", ""]),
                pick("Cleaning", _REASONS),
                pick("scheduled", _STATUSES),
                pick("2026-11-20T10:00:00Z", _UPDATED),
            ]
        )
    raw = [
        b"B8,1001,DOC1,2026-12-05T15:00,60,OP1,J\xe9r\xf4me,scheduled,",
        b"",
        b",,,,,,,,",
        b"B10,1001",
        b"B11,1001,DOC1,2026-12-05T15:00,60,OP1,x,scheduled,,extra",
        b"B12,1002,DOC2,2026-12-06T15:00,60,OP1,fine,scheduled,",
    ]
    return data, raw


def _write(data: ExportData, raw: list[bytes], folder: Path) -> Path:
    data.write(folder, age=60)
    path = folder / "appointments.csv"
    stat = path.stat()
    with path.open("ab") as handle:
        handle.write(b"\n".join(raw) + b"\n")
    os.utime(path, (stat.st_atime, stat.st_mtime))  # as old as the others
    return folder


def _change(data: ExportData, rng: random.Random) -> None:
    """Change, delete, move and add rows, as a PMS does between two exports."""
    rows = data.appointments
    for _ in range(len(rows) // 5):
        row = rows[rng.randrange(len(rows))]
        row[6] = f"Changed {rng.randrange(100)}"
    for _ in range(len(rows) // 20):
        del rows[rng.randrange(len(rows))]
    if rng.random() < 0.5:
        rows.insert(0, rows.pop())
    rows.append(["N1", "1003", "DOC1", "2026-12-20T09:00", "60", "OP1", "New", "scheduled", ""])


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a sync writes (the connector state without its cursor and
    the files' modification times in their stamps: both are made of the files' times)."""
    queries = {
        table: f"SELECT * FROM {table} ORDER BY 1"
        for table in ("provider", "patient", "patient_name_key", "appointment", "sync_problem")
    }
    queries["sync_state"] = "SELECT source, name, run_id, data FROM sync_state ORDER BY 1, 2"
    queries["sync_run"] = (
        "SELECT id, status, rows_seen, inserted, updated, cancelled, problems, detail "
        "FROM sync_run ORDER BY 1"
    )
    with engine.connect() as conn:
        dump = {
            table: [tuple(row) for row in conn.exec_driver_sql(sql)]
            for table, sql in queries.items()
        }
    dump["sync_state"] = [(*row[:3], _without_time(row[1], row[3])) for row in dump["sync_state"]]
    return dump


def _without_time(name: str, data: bytes) -> bytes:
    if not name.endswith("#file"):
        return data
    return data[:12] + data[20:]  # magic, size | mtime_ns | hash, records, settings


def _summary(summary: SyncSummary) -> tuple[Any, ...]:
    return (
        summary.status,
        summary.rows_seen,
        summary.inserted,
        summary.updated,
        summary.cancelled,
        summary.problems,
        dict(summary.detail),
    )


def _row_by_row(
    _parser: RowParser, _columns: Sequence[str]
) -> Any:  # a bulk reader that leaves every row to the row reader
    def bulk(texts: Sequence[Sequence[str]]) -> tuple[AppointmentColumns, list[bool]]:
        return AppointmentColumns(), [False] * len(texts[0])

    return bulk


def _runs(
    engine: Engine, tmp_path: Path, seed: int, *, bulk: bool
) -> tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    """The summaries of a few runs over a messy export, and the tables they left."""
    summaries: list[tuple[Any, ...]] = []
    rng = random.Random(seed)
    data, raw = _messy(rng, 300)
    folder = _write(data, raw, tmp_path / f"export-{seed}")
    fmt = ExportFormat.with_statuses(TZ, datetime_format="%m/%d/%Y")
    sync = make_sync(engine, folder, fmt=fmt)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_file, "_CHUNK", 11)
        patch.setattr(RunSql, "rows_per_statement", 5)
        if bulk:  # and the ways of a big load: whole id maps, indexes built afterwards,
            # the appointments read while they are written (read twice, a batch at a time)
            patch.setattr(RunSql, "whole_table_over", 3)
            patch.setattr(RunSql, "rebuild_indexes_over", 10)
            patch.setattr(FileReader, "stream_over", 5)
        else:  # row by row, ids looked up with IN (...), every row upserted
            patch.setattr(RowParser, "appointment_bulk", _row_by_row)
            patch.setattr(TableWriter, "plain_inserts", False)
        summaries.append(_summary(sync.run()))
        summaries.append(_summary(sync.run(force=True)))
        for _ in range(3):
            _change(data, rng)
            _write(data, raw if rng.random() < 0.5 else [], folder)
            summaries.append(_summary(sync.run()))
    return summaries, _dump(engine)


@pytest.mark.parametrize("seed", range(6))
def test_bulk_reading_gives_what_row_by_row_reading_gives(
    engine: Engine, tmp_path: Path, seed: int
) -> None:
    bulk, bulk_tables = _runs(engine, tmp_path, seed, bulk=True)
    drop_schema(engine)
    create_schema(engine)
    one_by_one, one_by_one_tables = _runs(engine, tmp_path, seed, bulk=False)
    assert bulk == one_by_one  # the summaries of the runs
    for table, rows in bulk_tables.items():
        assert rows == one_by_one_tables[table], table
    first = bulk[0]
    assert first[2] > 50 and first[5] > 20  # rows imported, and problems of every kind


def test_every_kind_of_bad_row_is_reported_by_the_bulk_reading(
    engine: Engine, tmp_path: Path
) -> None:
    data, raw = _messy(random.Random(1), 100)
    good = ["1001", "DOC1", "2026-12-05T09:00", "60", "OP1", "x", "scheduled", ""]
    for index, (column, value) in enumerate(
        [(1, "9999"), (2, "DOC9"), (3, "not-a-date"), (4, "0"), (7, "tentative"), (7, "")]
    ):
        row = [f"Z{index}", *good]
        row[column] = value
        data.appointments.append(row)
    folder = _write(data, raw, tmp_path / "export")
    sync = make_sync(engine, folder, fmt=ExportFormat.with_statuses(TZ))
    summary = sync.run()
    with engine.connect() as conn:
        reasons = [r for (r,) in conn.exec_driver_sql("SELECT reason FROM sync_problem")]
    text = "\n".join(reasons)
    for expected in (
        "appointment_id is missing",
        "is not an ISO 8601 date-time",
        "unknown provider 'DOC9'",
        "unknown patient '9999'",
        "duplicate id",
        "not UTF-8 text",
        "patient_id is missing",
        "birthdate '1980-13-45' is not a date",
        "duration_min",
        "unknown status 'tentative'",
        "status is missing",
    ):
        assert expected in text, expected
    assert summary.ok and summary.inserted > 30


# ----------------------------------------------------------------- the parts


@pytest.mark.parametrize("seed", range(20))
def test_appointments_read_in_bulk_are_what_the_row_reader_reads(seed: int) -> None:
    rng = random.Random(seed)
    fmt = ExportFormat.with_statuses(TZ, datetime_format="%m/%d/%Y")
    parser = RowParser(fmt)
    columns = list(APPOINTMENT_HEADER)
    if seed % 2:
        columns.remove("updated_at")
        columns.insert(0, "extra")
    read = parser.reader(APPOINTMENTS_FILE, columns)
    bulk = parser.appointment_bulk(columns)
    choices = {
        "appointment_id": ["A1", "", " A2 ", "A\0"],
        "patient_id": ["1001", "", " 7 "],
        "provider_id": ["DOC1", "", " X "],
        "start": [*_STARTS, "2026-12-03T09:30:00+02:00"],
        "duration_min": _DURATIONS,
        "operatory": ["OP1", " "],
        "reason": _REASONS,
        "status": _STATUSES,
        "updated_at": _UPDATED,
        "extra": ["x"],
    }
    rows = [[rng.choice(choices[c]) for c in columns] for _ in range(200)]
    got, keep = bulk([list(column) for column in zip(*rows, strict=True)])
    assert len(got) == len(keep) == len(rows)
    for index, values in enumerate(rows):
        if keep[index]:
            assert got.row(index) == read([*values, ""])
        else:
            with pytest.raises((BadRow, IgnoredRow)):
                read([*values, ""])


def test_a_changed_record_spanning_lines_in_a_rerun_is_read_carefully(
    engine: Engine, tmp_path: Path
) -> None:
    data = ExportData(
        providers=[provider("DOC1")],
        patients=[patient("1001", "Pat", "One")],
        appointments=[
            [f"A{i}", "1001", "DOC1", "2026-12-03T09:30", "60", "OP1", "x", "scheduled", ""]
            for i in range(50)
        ],
    )
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().inserted == 52
    data.appointments[10][6] = "two\nlines"
    data.write(folder, age=60)
    again = sync.run()
    assert (again.inserted, again.updated, again.problems) == (0, 1, 0)
    with engine.connect() as conn:
        reason = conn.execute(sa.text("SELECT reason FROM appointment WHERE pms_id = 'A10'"))
        assert reason.scalar() == "two\nlines"
