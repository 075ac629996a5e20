"""What keeps a big sync's memory bounded: the patients read while they are written, a
big state value written and read a piece at a time, the allocator's thresholds fixed.
The figures themselves are measured by ``tests/benchmarks/bench_sync.py``."""

from __future__ import annotations

import platform
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.ingest import csv_file
from linker_tui.store.db import make_engine
from linker_tui.store.schema import create_schema
from linker_tui.sync import csv_records, state, writers
from linker_tui.sync.control import StopFlag
from linker_tui.sync.csv_changes import FileReader
from linker_tui.sync.csv_index import Entries
from linker_tui.sync.csv_store import load_index
from linker_tui.sync.memory import return_freed_memory
from linker_tui.sync.sql import RunSql
from tests.builders import TZ
from tests.sync_support import ExportData, make_sync, many_appointments, snapshot


def _stored(engine: Engine) -> dict[str, bytes]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, data FROM sync_state")).all()
    return {name: bytes(data) for name, data in rows}


def test_a_big_state_value_is_stored_and_read_back_whole(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "PIECE", 64)  # a value over 64 bytes: written in pieces
    pieces = [memoryview(bytes(range(256)) * 3), memoryview(b"tail" * 50)]
    whole = b"".join(pieces)
    read_in_pieces: list[int] = []
    real = state._read_in_pieces

    def spy(conn: sa.Connection, row: int, sizes: Any) -> Any:
        read_in_pieces.append(row)
        return real(conn, row, sizes)

    monkeypatch.setattr(state, "_read_in_pieces", spy)
    with engine.begin() as conn:
        sql = RunSql(conn, StopFlag())
        state.save_state(sql, "src", "cur-1", 7, {"big": pieces, "small": b"x" * 10, "e": b""})
    data, run_id, cursor = state.load_state(engine, "src")
    assert data == {"big": whole, "small": b"x" * 10, "e": b""}
    assert (run_id, cursor) == (7, "cur-1")
    assert _stored(engine)["big"] == whole
    assert len(read_in_pieces) == (1 if engine.dialect.name == "sqlite" else 0)
    with engine.begin() as conn:  # stored again: the old rows replaced
        sql = RunSql(conn, StopFlag())
        state.save_state(sql, "src", "cur-2", 8, {"big": [memoryview(whole[::-1])]})
    data, run_id, cursor = state.load_state(engine, "src")
    assert data["big"] == whole[::-1] and (run_id, cursor) == (8, "cur-2")
    made = _Made([b"made ", b"as ", b"written" * 20])  # a piece made a part at a time
    with engine.begin() as conn:
        sql = RunSql(conn, StopFlag())
        state.save_state(sql, "src", "cur-3", 9, {"big": [pieces[1], made]})
    assert state.load_state(engine, "src")[0]["big"] == bytes(pieces[1]) + made.whole
    assert made.made == 1


def test_a_big_value_is_read_cut_into_parts_of_their_own(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored index is read as its head and its arrays (:func:`state.cut_value`): on
    SQLite each array is read into a buffer of its own, so an array let go is freed (a
    base merged with its delta is not held whole beside the merged index)."""
    monkeypatch.setattr(state, "PIECE", 64)
    whole = bytes(range(256)) * 4
    with engine.begin() as conn:
        state.save_state(RunSql(conn, StopFlag()), "src", "c", 1, {"big": whole, "s": b"ab"})
    stored = state.load_state(engine, "src")[0]
    cut: state.Cut = (3, lambda head: [head[0] if head else 0, 100, -1, 5])  # (as the head says)
    parts = state.cut_value(stored, "big", cut)
    at = [0, 3, 3, 103, len(whole), len(whole)]
    assert [bytes(part) for part in parts] == [whole[a:b] for a, b in pairwise(at)]
    if engine.dialect.name == "sqlite":
        buffers = [bytes(part.obj) for part in parts[1:]]  # (each its buffer's whole)
        assert buffers == [bytes(part) for part in parts[1:]]  # no part a view of the whole
    small = state.cut_value(stored, "s", cut)  # held: views of it
    assert [bytes(part) for part in small] == [b"ab", b"", b"", b"", b""]
    assert [bytes(part) for part in state.cut_value({}, "none", cut)] == [b""] * 5


class _Made:
    """A :class:`state.MadePiece`: its parts made when asked for (counted)."""

    def __init__(self, parts: list[bytes]) -> None:
        self.whole = b"".join(parts)
        self.nbytes = len(self.whole)
        self._parts, self.made = parts, 0

    def parts(self) -> Any:
        self.made += 1
        return map(memoryview, self._parts)


@pytest.fixture
def big_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows of the big state values read (:class:`state.StoredState`), in order."""
    reads: list[int] = []
    real = state.StoredState._read

    def spy(self: state.StoredState, big: Any, *sizes: Any) -> Any:
        reads.append(big[0])
        return real(self, big, *sizes)

    monkeypatch.setattr(state.StoredState, "_read", spy)
    return reads


def test_a_big_state_value_is_read_only_when_asked_for(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, big_reads: list[int]
) -> None:
    """The small values come with the cursor; a big one is read when first asked for,
    and one stored again meanwhile by another run is not read as this run's."""
    monkeypatch.setattr(state, "PIECE", 64)
    with engine.begin() as conn:
        sql = RunSql(conn, StopFlag())
        state.save_state(sql, "src", "cur-1", 7, {"big": b"b" * 100, "other": b"o" * 90})
        state.save_state(sql, "src", "cur-1", 7, {"small": b"s"})
    data, _run, _cursor = state.load_state(engine, "src")
    assert sorted(data) == ["big", "other", "small"] and len(data) == 3
    assert data["small"] == b"s" and big_reads == []
    assert data.get("big") == b"b" * 100 and data["big"] == b"b" * 100 and len(big_reads) == 1
    data.pop("big")
    assert "big" not in data and sorted(data) == ["other", "small"]
    assert "other" in data and len(big_reads) == 1  # (looked for, not read)
    with engine.begin() as conn:  # another run stores the file's index again
        state.save_state(RunSql(conn, StopFlag()), "src", "cur-2", 8, {"other": b"n" * 80})
    with pytest.raises(state.StateMoved):
        data.get("other")


def test_a_run_that_finds_its_files_unchanged_reads_no_index(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, big_reads: list[int]
) -> None:
    monkeypatch.setattr(state, "PIECE", 100)  # every file's index is a big value here
    data = many_appointments(80, 12)
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().inserted == 93 and big_reads == []
    data.write(folder, age=50)  # written again, the same bytes: no file is read
    assert sync.run().ok and big_reads == []
    assert sync.run().ok and big_reads == []  # the export untouched: the cursor alone
    data.appointments[7][6] = "Changed"
    data.write(folder, age=40)
    again = sync.run()  # the appointments' index alone is read (the others: same bytes)
    assert again.updated == 1 and len(big_reads) == 1


def test_an_index_stored_in_pieces_is_the_index_read_next_time(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "PIECE", 100)  # the index (about 35 bytes a record)
    data = many_appointments(80, 12)
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().inserted == 93
    data.appointments[7][6] = "Changed"
    data.write(folder, age=50)
    again = sync.run()  # one changed record: the others matched the stored index
    assert (again.inserted, again.updated, again.cancelled, again.problems) == (0, 1, 0, 0)


def _streamed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Big-import reading for a small export: patients and appointments read again a
    few records at a time while they are written; returns the patients' batch sizes."""
    monkeypatch.setattr(FileReader, "stream_over", 5)
    monkeypatch.setattr(FileReader, "batch_size", 7)
    monkeypatch.setattr(RunSql, "rows_per_statement", 3)
    monkeypatch.setattr(RunSql, "rebuild_indexes_over", 10)
    sizes: list[int] = []
    real = writers._write_patient_batches

    def spy(sql: RunSql, batches: Any, region: str) -> tuple[int, int]:
        def counted() -> Any:
            for batch in batches:
                sizes.append(len(batch))
                yield batch

        return real(sql, counted(), region)

    monkeypatch.setattr(writers, "_write_patient_batches", spy)
    return sizes


def test_patients_of_a_big_import_are_written_a_batch_at_a_time(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _streamed(monkeypatch)
    data = many_appointments(60, 30)
    data.patients.append(list(data.patients[3]))  # the same id twice: a problem
    for row in data.patients[10:30:3]:  # in several batches: other keys of the name
        row[1] = "Smith-Jones"
    folder = data.write(tmp_path / "export", age=60)
    summary = make_sync(engine, folder).run()
    assert summary.ok and summary.inserted == 1 + 30 + 60 and summary.problems == 1
    assert sizes == [7, 7, 7, 7, 2]  # 31 records: the copy is refused
    with engine.connect() as conn:
        keys = conn.exec_driver_sql("SELECT COUNT(*) FROM patient_name_key").scalar()
        reasons = [r for (r,) in conn.exec_driver_sql("SELECT reason FROM sync_problem")]
    assert keys == 7 * 3 and reasons == ["duplicate id '1003'"]
    sizes.clear()
    data.patients[5][2] = "Renamed"
    data.write(folder, age=50)
    again = make_sync(engine, folder).run()  # one record to read: not streamed
    assert (again.inserted, again.updated, again.problems) == (0, 1, 1) and sizes == []


def test_a_failure_while_patients_are_streamed_keeps_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _streamed(monkeypatch)
    data = many_appointments(40, 30)
    folder = data.write(tmp_path / "export", age=60)
    first = make_sync(engine, folder).run()
    assert first.ok
    before = snapshot(engine)
    for row in data.patients:
        row[2] = row[2] + " Jr"
    data.write(folder, age=50)
    make_sync(engine, folder).run(force=True)  # (indexes: a new base stored)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM sync_state WHERE name <> ''")  # read all again
    after_second = snapshot(engine)
    assert after_second != before
    for row in data.patients:
        row[2] = row[2] + " II"
    data.write(folder, age=40)
    real = writers._patient_row
    written: list[str] = []

    def failing(p: Any, region: str) -> Any:
        written.append(p.pms_id)
        if len(written) == 20:  # in the third batch, two written already
            raise RuntimeError("the disk went away")
        return real(p, region)

    monkeypatch.setattr(writers, "_patient_row", failing)
    failed = make_sync(engine, folder).run()
    assert not failed.ok and "the disk went away" in (failed.error or "")
    assert snapshot(engine) == after_second  # nothing of the run kept, state included
    monkeypatch.setattr(writers, "_patient_row", real)
    retried = make_sync(engine, folder).run()
    assert retried.ok and retried.updated == 30


def test_glibc_keeps_less_freed_memory_once_told() -> None:
    glibc = platform.libc_ver()[0] == "glibc"
    assert return_freed_memory() is glibc
    assert return_freed_memory() is glibc  # once is enough: the second call does nothing


def _messy_export() -> ExportData:
    """70 appointments, one id twice, one start the bulk reader refuses (read by the row
    reader after the others of its batch: its id comes out of order): two problems."""
    data = many_appointments(70, 9)
    data.appointments.append(list(data.appointments[4]))  # the same id twice: a problem
    data.appointments[2][3] = "not a date"
    return data


def _index_state(url: str, folder: Path) -> dict[str, bytes]:
    """A first import of ``folder`` into a fresh SQLite database, then a re-run after one
    change: the stored indexes (not the files' stamps: their times differ)."""
    engine = make_engine(url)
    create_schema(engine)
    first = make_sync(engine, folder).run()
    assert first.ok and first.problems == 2  # the id twice, the start
    data = _messy_export()
    data.appointments[11][6] = "Changed"
    data.write(folder, age=50)
    again = make_sync(engine, folder).run()  # the change and the refused record read
    assert (again.inserted, again.updated, again.cancelled, again.problems) == (0, 1, 0, 2)
    stored = {k: v for k, v in _stored(engine).items() if k and not k.endswith("#file")}
    engine.dispose()
    return stored


def test_narrow_positions_past_their_limits_widen_to_the_same_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _streamed(monkeypatch)  # read while written, a few records at a time
    data = _messy_export()
    folder = data.write(tmp_path / "export", age=60)
    narrow = _index_state(f"sqlite:///{tmp_path / 'narrow.db'}", folder)
    data.write(folder, age=60)
    # As if the file were over 4 GiB, with over 2^31 lines, and the ids over 4 GiB: line
    # starts and record lines in 64 bits, where the ids are (placed once one comes out of
    # order, then) widened from 32 to 64 bits midway (after 100 bytes of ids).
    monkeypatch.setattr(csv_file, "_NARROW", 300)
    monkeypatch.setattr(csv_records, "NARROW_LINES", 20)
    monkeypatch.setattr(Entries, "narrow", 100)
    widened: list[str] = []
    real = Entries.set_ids

    def spy(self: Entries, positions: Any, ids: Any) -> None:
        real(self, positions, ids)
        widened.append("in order" if self.id_at is None else self.id_at.dtype.name)

    monkeypatch.setattr(Entries, "set_ids", spy)
    wide = _index_state(f"sqlite:///{tmp_path / 'wide.db'}", folder)
    assert "in order" in widened and "uint32" in widened and "int64" in widened
    assert wide == narrow and any(name.endswith(".csv") for name in wide)


def test_starts_past_32_bits_widen_and_are_stored_whole(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The starts of the records read are kept in 32 bits while they fit (1901-12-13 to
    2038-01-19): a start in 2045, then one in 1890, midway through a streamed import
    widen them, and the stored index has every start whole."""
    _streamed(monkeypatch)
    data = many_appointments(70, 9)
    data.appointments[40][3] = "2045-03-01T09:00"
    data.appointments[55][3] = "1890-06-02T10:30"
    widths: list[str] = []
    real = Entries.set_starts

    def spy(self: Entries, positions: Any, epochs: Any) -> None:
        real(self, positions, epochs)
        widths.append(self.starts.dtype.name)

    monkeypatch.setattr(Entries, "set_starts", spy)
    first = make_sync(engine, data.write(tmp_path / "export", age=60)).run()
    assert first.ok and first.inserted == 1 + 9 + 70 and first.problems == 0
    assert widths[0] == "int32" and widths[-1] == "int64"  # widened midway
    index = load_index(_stored(engine), "appointments.csv").index
    by_id = dict(zip(index.ids(range(len(index))), index.starts.tolist(), strict=True))
    for row in data.appointments:
        expected = datetime.fromisoformat(row[3]).replace(tzinfo=TZ).timestamp()
        assert by_id[row[0].encode()] == int(expected), row[0]
    with engine.connect() as conn:
        far = conn.execute(sa.text("SELECT start FROM appointment WHERE pms_id = 'A40'")).scalar()
    assert str(far).startswith("2045-03-01")


def test_a_base_merged_with_its_delta_is_let_go_once_read(engine: Engine, tmp_path: Path) -> None:
    """A stored index with a delta is read as one merged index: the stored base's bytes
    are taken out of the state the engine read (freed there, not at the end)."""
    data = many_appointments(80, 12)
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().inserted == 93
    data.appointments[7][6] = "Changed"
    data.write(folder, age=50)
    assert sync.run().updated == 1  # a delta stored beside the base
    stored = _stored(engine)
    assert stored["appointments.csv#delta"] and stored["appointments.csv"]
    data.appointments[9][6] = "Changed too"
    data.write(folder, age=40)
    connector = sync.connector
    assert connector is not None
    loaded, _run, _cursor = state.load_state(engine, connector.source)
    assert "appointments.csv" in loaded
    changes = connector.changes(loaded, StopFlag())
    assert "appointments.csv" not in loaded and "appointments.csv#delta" not in loaded
    block = changes.appointments.block
    assert block is not None and list(block.columns.pms_id) == ["A9"]  # read against both
