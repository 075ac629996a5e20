"""What changed in one file of a CSV export since the last run (see
:mod:`linker_tui.sync.csv_folder`).

The file's lines are fingerprinted as bytes, before anything is decoded
(:class:`linker_tui.ingest.csv_file.CsvLines`); a line whose fingerprint is a record the
last run imported is that record, unchanged, wherever it moved in the file. Only the
other lines are handed to the csv module (:meth:`CsvLines.records`, a run of lines at a
time; a record that goes on over more lines is read to its end, and those lines are
part of it), and only their records are turned into typed rows (appointments column by
column, :meth:`RowParser.appointment_bulk`; a row that reader refuses is read again by
the row reader, which says why).

A record that cannot be read at all (the wrong number of values, bytes that are not
UTF-8, a field the csv module refuses) is reported with its line, and makes the file
*incomplete*: the ids it held are unknown, so nothing missing from such a file is
cancelled.

A big import (more than :attr:`FileReader.stream_over` appointment records to read, the
first import above all) is never held whole: the records are found in a first reading
that keeps only their lines, then read again a few thousand at a time, turned into rows
and handed to the engine, which writes each batch before the next is read
(:attr:`TableChanges.batches`; the engine's transaction is open meanwhile). What depends
on the whole file (the ids gone from it, whether it was read whole, its date window) is
known once the last batch was read.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import compress, islice, repeat
from operator import is_, lt
from typing import Any

from linker_tui.ingest.csv_file import CsvLines, read_header
from linker_tui.ingest.pms_export import (
    APPOINTMENTS_FILE,
    ID_COLUMNS,
    MAX_ID_LENGTH,
    AppointmentColumns,
    BadRow,
    IgnoredRow,
    RowParser,
    RowProblem,
    header_problem,
    record_problem,
)
from linker_tui.sync.connector import AppointmentBlock, Changed, TableChanges, merged_block
from linker_tui.sync.control import StopFlag
from linker_tui.sync.csv_index import LineIndex, Lines, gone_ids, matched, runs

_SALT = b"csv-lines-1\n"  # a new fingerprint scheme: an old index is read again whole


@dataclass
class FileDiff:
    """How one file compares with its index; ``index`` is the new index (before the
    engine refuses rows)."""

    old: LineIndex
    index: LineIndex
    keep_all: bool = False  # the file could not be read: keep the old index
    dirty: bool = True  # the index differs from the old one (it is stored again)


@dataclass
class _Pending:
    """Records to turn into rows: new index position, line, values (in that order)."""

    positions: array[int] = field(default_factory=lambda: array("q"))
    lines: array[int] = field(default_factory=lambda: array("q"))
    rows: Iterable[list[str]] = ()


@dataclass
class _Parsed:
    """The records the first reading found: data line and line of each, their values
    (None: not kept, read again when they are turned into rows), and the ranges of
    lines read (to read them again)."""

    ats: array[int] = field(default_factory=lambda: array("q"))
    lines: array[int] = field(default_factory=lambda: array("q"))
    rows: list[list[str]] | None = None
    calls: list[tuple[int, int]] = field(default_factory=list)


class FileReader:
    """Reads one file of an export against its old index. An appointments file with
    more than ``stream_over`` records to read is read twice instead of being held whole:
    once to find the records, then a batch at a time while the engine writes them
    (:attr:`TableChanges.batches`)."""

    stream_over = 50_000

    def __init__(
        self, name: str, parser: RowParser, salt: bytes, problems: list[RowProblem], stop: StopFlag
    ) -> None:
        self.name = name
        self.parser = parser
        self.salt = salt
        self.problems = problems
        self.stop = stop

    def diff(self, data: bytes | None, old: LineIndex) -> tuple[TableChanges[Any], FileDiff]:
        """The changes of the file whose bytes are ``data`` (None: it could not be read)."""
        name = self.name
        table: TableChanges[Any] = TableChanges(
            file=name, previous=len(old.keys) - old.keys.count(0)
        )
        unread = FileDiff(old, old, keep_all=True)
        if data is None:
            table.readable = False
            return table, unread
        lines = CsvLines(data)
        csv = read_header(lines)
        reason = header_problem(name, csv.columns)
        if reason:
            self.problems.append(RowProblem(name, csv.header_line, reason))
            table.readable = False
            return table, unread
        reported = len(self.problems)
        salt = self._salt(csv.columns)
        first = csv.data_start
        found, where_old = matched(lines.keys[first:], old, salt)
        stream = self.name == APPOINTMENTS_FILE and found.olds.count(-1) > self.stream_over
        parsed = self._parse(table, lines, first, found, where_old, keep_rows=not stream)
        index = LineIndex(array("Q", compress(found.keys, found.starts)), salt=salt)
        olds = array("q", compress(found.olds, found.starts))
        index.ids = list(map([*old.ids, b""].__getitem__, olds))
        index.starts = array("q", map((old.starts + array("q", [0])).__getitem__, olds))
        pending = _pending(parsed, found, olds)
        parsed.ats, parsed.lines, parsed.rows = array("q"), array("q"), None  # calls stay
        table.seen = len(index.keys)
        diff = FileDiff(old, index)
        gone = gone_ids(old, olds)
        finish = partial(self._finish, table, diff, gone, reported)
        if stream:  # the ids of the unchanged records (those of the pending ones, and more)
            pending.rows = self._again(lines, parsed, first, found.olds, pending.lines)
            unchanged = set(index.ids)
            unchanged.discard(b"")
            step = _Step(self, table, csv.columns, index, unchanged)
            step.keep_read_ids = bool(gone)  # a first import: a million ids not kept
            table.batches = self._batches(table, pending, lines.utf8, step, finish)
            return table, diff
        unchanged = self._unchanged(csv.columns, pending, index) if pending.positions else set()
        finish(self._rows(table, pending, csv.columns, lines.utf8, index, unchanged))
        return table, diff

    def _finish(
        self,
        table: TableChanges[Any],
        diff: FileDiff,
        gone_ids: set[bytes],
        reported: int,
        read_ids: set[bytes],
    ) -> None:
        """Once every record was read: the ids gone from the file, its problems in line
        order, whether it was read whole, whether its index changed."""
        index, old = diff.index, diff.old
        table.removed_ids = {i.decode("utf-8", "replace") for i in gone_ids - read_ids}
        self.problems[reported:] = sorted(self.problems[reported:], key=lambda p: p.line)
        index.complete = table.complete and not self.problems[reported:]
        diff.dirty = (
            index.keys.tobytes() != old.keys.tobytes()
            or index.ids != old.ids
            or index.salt != old.salt
        )

    def _salt(self, columns: Sequence[str]) -> bytes:
        """What the fingerprints of this file hold besides the bytes: the settings, the
        file, its header."""
        text = "\x1f".join(columns).encode("utf-8", "surrogateescape")
        return hashlib.sha256(self.salt + _SALT + self.name.encode() + b"\n" + text).digest()[:16]

    def _parse(
        self,
        table: TableChanges[Any],
        lines: CsvLines,
        first: int,
        found: Lines,
        where_old: dict[int, int],
        *,
        keep_rows: bool,
    ) -> _Parsed:
        """Read the records of the lines that are not an imported record (their runs of
        lines, each record to its end): data line, line and (``keep_rows``) values of
        each."""
        parsed = _Parsed(rows=[] if keep_rows else None)
        done = 0  # data lines before this one are decided
        for start, end in runs(found):
            if end <= done:
                continue
            parsed.calls.append((first + max(start, done), first + end))
            for chunk in lines.records(*parsed.calls[-1]):
                self.stop.check()
                if chunk.unreadable:
                    table.complete = False
                    self.problems.extend(
                        RowProblem(self.name, at, why) for at, why in chunk.unreadable
                    )
                for line, row, after in zip(chunk.lines, chunk.rows, chunk.ends, strict=True):
                    at, end_at = line - 1 - first, after - 1 - first
                    found.starts[at] = 1
                    if end_at > at + 1:  # over more lines: they are part of it
                        found.starts[at + 1 : end_at] = bytes(end_at - at - 1)
                        key = found.keys[at] = lines.key(first + at, first + end_at)
                        found.olds[at] = where_old.get(key, -1)
                    parsed.ats.append(at)
                    parsed.lines.append(line)
                    if parsed.rows is not None:
                        parsed.rows.append(row)
                    done = max(done, end_at)
        return parsed

    def _again(
        self, lines: CsvLines, parsed: _Parsed, first: int, olds: array[int], wanted: array[int]
    ) -> Iterator[list[str]]:
        """The values of the records to turn into rows, read again (the file's bytes are
        the same: so are its records; checked line by line)."""
        expected = iter(wanted)
        for call in parsed.calls:
            for chunk in lines.records(*call):
                self.stop.check()
                for line in chunk.lines:
                    if olds[line - 1 - first] < 0 and next(expected, -1) != line:
                        raise RuntimeError(f"{self.name}: line {line} read differently twice")
                yield from (
                    row
                    for line, row in zip(chunk.lines, chunk.rows, strict=True)
                    if olds[line - 1 - first] < 0
                )

    def _unchanged(self, columns: list[str], pending: _Pending, index: LineIndex) -> set[bytes]:
        """The ids of the pending records that an unchanged record has too."""
        id_at = columns.index(ID_COLUMNS[self.name])
        wanted = {
            row[id_at].strip().encode("utf-8", "surrogateescape")
            for row in pending.rows
            if len(row) > id_at
        }
        wanted.discard(b"")
        return set(filter(wanted.__contains__, index.ids)) if wanted else set()

    def _rows(
        self,
        table: TableChanges[Any],
        pending: _Pending,
        columns: list[str],
        utf8: bool,
        index: LineIndex,
        unchanged: set[bytes],
    ) -> set[bytes]:
        """Turn the pending records into rows (into ``table``) and fix their index
        entries; returns the ids of the records read (imported or not)."""
        step = _Step(self, table, columns, index, unchanged)
        for _ in self._convert(table, pending, utf8, step):
            pass
        if step.block is not None:
            table.block = step.block
        return step.read_ids

    def _batches(
        self,
        table: TableChanges[Any],
        pending: _Pending,
        utf8: bool,
        step: _Step,
        finish: Callable[[set[bytes]], None],
    ) -> Iterator[AppointmentBlock]:
        """The pending records turned into rows a batch at a time; ``finish`` is told the
        ids read once they all were."""
        for _ in self._convert(table, pending, utf8, step):
            batch = merged_block(table.changed, step.block)
            table.changed, step.block = [], AppointmentBlock()
            if len(batch):
                yield batch
        finish(step.read_ids)

    def _convert(
        self, table: TableChanges[Any], pending: _Pending, utf8: bool, step: _Step
    ) -> Iterator[None]:
        """Turn the pending records into rows (into ``step``), a few thousand at a time,
        and fix their index entries; yields after each few thousand."""
        width = step.width
        size = 4_096
        records = iter(pending.rows)
        for first in range(0, len(pending.positions), size):
            self.stop.check()
            positions = pending.positions[first : first + size]
            lines = pending.lines[first : first + size]
            rows = list(islice(records, len(positions)))
            fine: list[int] = []
            if utf8 and all(map(width.__eq__, map(len, rows))):
                fine = list(range(len(rows)))
            else:
                for offset, values in enumerate(rows):
                    reason = record_problem(values, width, utf8)
                    if reason:
                        self.refuse(positions[offset], lines[offset], reason, step.index)
                        table.complete = False
                    else:
                        fine.append(offset)
            step.read(positions, lines, rows, fine)
            yield

    def refuse(
        self, at: int, line: int, reason: str, index: LineIndex, *, keep_id: bool = False
    ) -> None:
        """A record not imported: reported, read again next time; its id is kept (so its
        disappearance is noticed) only when it was read (``keep_id``)."""
        self.problems.append(RowProblem(self.name, line, reason))
        index.keys[at], index.starts[at] = 0, 0
        if not keep_id:
            index.ids[at] = b""


class _Step:
    """Turns pending records into rows, a step (a few thousand records) at a time."""

    def __init__(
        self,
        reader: FileReader,
        table: TableChanges[Any],
        columns: list[str],
        index: LineIndex,
        unchanged: set[bytes],
    ) -> None:
        name = reader.name
        self.reader, self.table, self.index, self.unchanged = reader, table, index, unchanged
        self.id_at = columns.index(ID_COLUMNS[name])
        self.width = len(columns)
        self.row_reader = reader.parser.reader(name, columns)
        self.bulk = reader.parser.appointment_bulk(columns) if name == APPOINTMENTS_FILE else None
        self.block = AppointmentBlock() if self.bulk is not None else None
        self.read_ids: set[bytes] = set()  # ids of the records read
        self.keep_read_ids = True  # False: no old record is gone, no id is looked up
        # ids (UTF-8) of the rows imported: the index's own bytes, nothing more is kept
        self.taken: set[bytes] = set()
        self.epoch_of: dict[datetime, int] = {}

    def read(
        self,
        positions: Sequence[int],
        lines: Sequence[int],
        rows: list[list[str]],
        fine: Sequence[int],
    ) -> None:
        """Read the records at offsets ``fine`` (the others were refused already)."""
        slow: Sequence[int] = fine
        if self.bulk is not None and fine:
            got, keep = self.bulk(list(zip(*(rows[at] for at in fine), strict=True)))
            done = list(compress(fine, keep))
            if not all(keep):
                kept = AppointmentColumns()
                kept.extend(got, keep)
                got = kept
                slow = sorted(set(fine).difference(done))
            else:
                slow = ()
            self._block(got, [positions[at] for at in done], [lines[at] for at in done])
        for offset in slow:
            self._one(positions[offset], lines[offset], rows[offset])

    def _block(
        self, got: AppointmentColumns, positions: Sequence[int], lines: Sequence[int]
    ) -> None:
        """Appointments the bulk reader read: each id once, and not an unchanged row's."""
        assert self.block is not None
        ids = got.pms_id
        encoded = list(map(str.encode, ids))
        index_ids = self.index.ids
        for at, utf8 in zip(positions, encoded, strict=True):
            index_ids[at] = utf8
        if self.keep_read_ids:
            self.read_ids.update(encoded)
        distinct = set(encoded)
        if (
            len(distinct) < len(ids)
            or not self.taken.isdisjoint(distinct)
            or not self.unchanged.isdisjoint(encoded)
        ):
            keep = []
            for pms_id, utf8, at, line in zip(ids, encoded, positions, lines, strict=True):
                twice = utf8 in self.taken or utf8 in self.unchanged
                if twice:
                    self.reader.refuse(at, line, f"duplicate id {pms_id!r}", self.index)
                self.taken.add(utf8)
                keep.append(not twice)
            kept = AppointmentColumns()
            kept.extend(got, keep)
            got = kept
            positions = list(compress(positions, keep))
            lines = list(compress(lines, keep))
        else:
            self.taken.update(distinct)
        starts = self.index.starts
        for at, epoch in zip(positions, _epochs(got.start, self.epoch_of), strict=True):
            starts[at] = epoch
        self.block.columns.extend(got)
        self.block.lines.extend(lines)
        self.block.keys.extend(positions)

    def _one(self, at: int, line: int, values: list[str]) -> None:
        """A record read by the row reader (it says what is wrong with it)."""
        index, table = self.index, self.table
        pms_id = values[self.id_at].strip()
        encoded = pms_id.encode()
        readable = 0 < len(pms_id) <= MAX_ID_LENGTH
        if readable:
            index.ids[at] = encoded
            if self.keep_read_ids:
                self.read_ids.add(encoded)
        try:
            parsed = self.row_reader([*values, ""])
        except BadRow as exc:
            self.reader.refuse(at, line, str(exc), index, keep_id=readable)
            return
        except IgnoredRow:
            table.ignored += 1
            index.starts[at] = 0
            return
        if encoded in self.taken or encoded in self.unchanged:
            self.reader.refuse(at, line, f"duplicate id {pms_id!r}", index)
            return
        self.taken.add(encoded)
        table.changed.append(Changed(parsed, line, at))
        start = getattr(parsed, "start", None)
        index.starts[at] = _epochs([start], self.epoch_of)[0] if start is not None else 0


def _pending(parsed: _Parsed, found: Lines, olds: array[int]) -> _Pending:
    """The records to turn into rows: those no record of the old index is."""
    pending = _Pending(array("q", compress(range(len(olds)), map(lt, olds, repeat(0)))))
    wanted = [found.olds[at] < 0 for at in parsed.ats]
    pending.lines = array("q", compress(parsed.lines, wanted))
    if parsed.rows is not None:
        pending.rows = list(compress(parsed.rows, wanted))
        assert len(pending.positions) == len(pending.rows)
    return pending


def _epochs(starts: Sequence[datetime], known: dict[datetime, int]) -> list[int]:
    """The epoch seconds of these (repeating) starts."""
    epochs = list(map(known.get, starts))
    if None in epochs:
        for start in set(compress(starts, map(is_, epochs, repeat(None)))):
            known[start] = int(start.timestamp())
        epochs = list(map(known.__getitem__, starts))
    return epochs  # type: ignore[return-value]
