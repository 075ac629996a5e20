"""A CSV file read a block at a time (:meth:`CsvLines.of_file`, issue 19: the sync does
not hold the file's bytes) reads as its bytes do, and a file that changes before its
lines are read again is noticed."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash
from sqlalchemy.engine import Engine

from linker_tui.ingest import csv_file
from linker_tui.ingest.csv_file import CsvLines, FileChanged, read_header
from linker_tui.ingest.pms_export import APPOINTMENTS_FILE
from linker_tui.store.enums import SyncRunStatus
from linker_tui.sync.csv_changes import FileReader
from tests.sync_support import appointment, appointments_by_pms_id, make_sync, sample, snapshot

_FILES = [
    b"",
    b"id,reason\n",
    b"id,reason\n1,a\n2,b",  # no line break at the end
    codecs.BOM_UTF8 + b'id,reason\n1,caf\xc3\xa9\n\n2,"two\nlines"\n',
    b"id,reason\n" + b"".join(b"%d,%s\n" % (i, b"x" * (i % 97)) for i in range(3_000)),
    b"id,reason\n1," + b"y" * 5_000 + b"\n2,b\n",  # a line longer than a block
    b"id,reason\n1,bad \xff byte\n2,b\n",
]


def _records(lines: CsvLines) -> list[tuple[int, list[str]]]:
    table = read_header(lines)
    out = [(table.header_line, table.columns)]
    for chunk in lines.records(table.data_start, lines.count):
        out += list(zip(chunk.lines, chunk.rows, strict=True))
    return out


@pytest.mark.parametrize("data", _FILES)
def test_a_file_read_a_block_at_a_time_reads_as_its_bytes(
    data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_file, "_BLOCK", 1_000)  # many blocks, one line over a block
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    streamed, digest = CsvLines.of_file(path)
    whole = CsvLines(data)
    assert streamed.data is None  # the bytes are not held
    assert digest == xxhash.xxh3_64_intdigest(data)
    assert np.array_equal(streamed.keys, whole.keys)
    assert np.array_equal(streamed.marks, whole.marks)
    if streamed.count > 2:
        assert streamed.key(0, 2) == whole.key(0, 2)
    assert _records(streamed) == _records(whole)
    assert streamed.utf8 == whole.utf8


@pytest.mark.parametrize("data", _FILES[2:])
@pytest.mark.parametrize("past", [-1, 0, 1, 1_500])  # where the limit is: from the end
def test_line_starts_past_the_32_bit_limit_are_kept_in_64_bits(
    data: bytes, past: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    narrow, _ = CsvLines.of_file(path)
    assert narrow.marks.dtype == np.uint32  # under 4 GiB: 4 bytes a mark
    size = len(data.removeprefix(codecs.BOM_UTF8))
    limit = max(1, size - past)  # as if the file's last bytes were past 4 GiB
    lengths = [0, *map(len, data.removeprefix(codecs.BOM_UTF8).splitlines(keepends=True))]
    marks = np.cumsum(lengths)[:-1][::16].tolist()
    monkeypatch.setattr(csv_file, "_NARROW", limit)
    monkeypatch.setattr(csv_file, "_BLOCK", 1_000)  # blocks under the limit, others past it
    for lines in (CsvLines.of_file(path)[0], CsvLines(data)):
        assert lines.marks.tolist() == marks  # where every 16th line starts
        assert lines.marks.dtype == (np.int64 if marks and marks[-1] >= limit else np.uint32)
        assert _records(lines) == _records(narrow)


@pytest.mark.parametrize("mark", [1, 3, 16])
def test_any_range_of_lines_reads_as_the_bytes_between_marks(
    mark: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only every ``_MARK``-th line's start is kept: a range is read from the mark before
    it and cut to its lines, held or read again from the file."""
    monkeypatch.setattr(csv_file, "_MARK", mark)
    monkeypatch.setattr(csv_file, "_BLOCK", 100)  # many blocks, not aligned with the marks
    data = b"id,reason\n" + b"".join(b"%d,%s\n" % (i, b"z" * (i % 13)) for i in range(40))
    path = tmp_path / "a.csv"
    path.write_bytes(data + b"41,last")  # no line break at the end
    split = (data + b"41,last").splitlines(keepends=True)
    held, streamed = CsvLines(data + b"41,last"), CsvLines.of_file(path)[0]
    assert len(held.marks) == len(streamed.marks) == -(-len(split) // mark)
    for first in range(len(split)):
        for end in range(first + 2, len(split) + 1):
            expected = xxhash.xxh3_64_intdigest(b"".join(split[first:end]))
            assert held.key(first, end) == streamed.key(first, end) == expected


@pytest.mark.parametrize("data", [b"id\r\n1\r\n", b"id\n1\r2\n", b"id\n1\0\n"])
def test_a_file_whose_bytes_are_rewritten_is_held_whole(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    lines, digest = CsvLines.of_file(path)
    assert lines.data is not None
    assert digest == xxhash.xxh3_64_intdigest(data)
    assert np.array_equal(lines.keys, CsvLines(data).keys)


@pytest.mark.parametrize(
    "later", [b"id,reason\n1,a\n2,c\n", b"id,reason\n1,a\n", b"id,reason\n1,a\n2,b\n3,c\n"]
)
def test_a_file_changed_before_it_is_read_again_is_noticed(later: bytes, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"id,reason\n1,a\n2,b\n")
    lines, _ = CsvLines.of_file(path)
    path.write_bytes(later)
    if later.startswith(b"id,reason\n1,a\n2,b\n"):  # appended to: the lines read are the same
        assert _records(lines)[-1] == (3, ["2", "b"])
        return
    with pytest.raises(FileChanged):
        _records(lines)


def test_an_export_changed_while_it_is_read_fails_the_run_and_keeps_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sample()
    sync = make_sync(engine, data.write(tmp_path / "export"))
    sync.run()
    before = snapshot(engine)
    data.appointments.append(appointment("A6", "1003", "2026-12-11T08:00"))
    data.appointments.append(appointment("A7", "1003", "2026-12-12T08:00"))
    folder = data.write(tmp_path / "export")
    path = folder / APPOINTMENTS_FILE
    real = FileReader._again

    def rewritten_before(self: FileReader, *args: Any) -> Any:
        # the PMS writes the file again (same size) once its changed lines were found
        path.write_bytes(path.read_bytes().replace(b"2026-12-12", b"2026-12-13"))
        return real(self, *args)

    monkeypatch.setattr(FileReader, "stream_over", 1)  # read again, a batch at a time
    monkeypatch.setattr(FileReader, "_again", rewritten_before)
    failed = sync.run()
    assert failed.status is SyncRunStatus.FAILED and "changed while it was read" in failed.error
    assert snapshot(engine) == before
    monkeypatch.undo()
    retried = sync.run()
    assert retried.ok and retried.inserted == 2
    assert appointments_by_pms_id(engine)["A7"].start.day == 13
