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
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress, repeat
from operator import is_, lt, not_
from typing import Any

from linker_tui.ingest.csv_file import BLANK_KEYS, CsvLines, read_header
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
from linker_tui.sync.connector import AppointmentBlock, Changed, TableChanges
from linker_tui.sync.control import StopFlag

_SALT = b"csv-lines-1\n"  # a new fingerprint scheme: an old index is read again whole


@dataclass
class LineIndex:
    """Per record of a file, in file order: fingerprint of its bytes (0: not imported),
    id, start (appointments; epoch seconds, 0 if none). ``salt`` names how the records
    were read (header, settings): an index of another salt matches nothing.
    ``complete``: every record of the file was imported."""

    keys: array[int] = field(default_factory=lambda: array("Q"))
    ids: list[bytes] = field(default_factory=list)
    starts: array[int] = field(default_factory=lambda: array("q"))
    salt: bytes = b""
    complete: bool = False


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
    """Records to turn into rows: new index position, line, values."""

    positions: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class _Lines:
    """Per data line of the file (from the header's end): whether a record starts there,
    its fingerprint and the position of that record in the old index (-1: none)."""

    starts: bytearray
    keys: array[int]
    olds: array[int]


class FileReader:
    """Reads one file of an export against its old index."""

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
        found = _Lines(bytearray(), lines.keys[first:], array("q"))
        where_old: dict[int, int] = {}
        in_place = _in_place(found.keys, old.keys) if old.salt == salt else None
        if in_place is not None:
            found.olds = in_place
        else:
            if old.salt == salt:
                where_old = dict(zip(old.keys, range(len(old.keys)), strict=True))
                where_old.pop(0, None)  # records not imported: read again
            found.olds = array("q", map(where_old.get, found.keys, repeat(-1)))
            _first_copies(found.olds, len(old.keys))
        found.starts = bytearray(map(not_, map(lt, found.olds, repeat(0))))
        parsed = self._parse(table, lines, first, found, where_old)
        index = LineIndex(array("Q", compress(found.keys, found.starts)), salt=salt)
        olds = array("q", compress(found.olds, found.starts))
        index.ids = list(map([*old.ids, b""].__getitem__, olds))
        index.starts = array("q", map((old.starts + array("q", [0])).__getitem__, olds))
        pending = _Pending(list(compress(range(len(olds)), map(lt, olds, repeat(0)))))
        for _at, line, row in compress(parsed, (found.olds[at] < 0 for at, _, _ in parsed)):
            pending.lines.append(line)
            pending.rows.append(row)
        assert len(pending.positions) == len(pending.rows)
        table.seen = len(index.keys)
        used = bytearray(len(old.keys) + 1)
        any(map(used.__setitem__, olds, repeat(1)))
        gone = list(compress(range(len(old.keys)), map(not_, used)))
        gone_ids = {old.ids[at] for at in gone} - {b""}
        unchanged = self._unchanged(csv.columns, pending, index) if pending.positions else set()
        read_ids = self._rows(table, pending, csv.columns, lines.utf8, index, unchanged)
        table.removed_ids = {i.decode("utf-8", "replace") for i in gone_ids - read_ids}
        self.problems[reported:] = sorted(self.problems[reported:], key=lambda p: p.line)
        index.complete = table.complete and not self.problems[reported:]
        diff = FileDiff(old, index)
        diff.dirty = (
            index.keys.tobytes() != old.keys.tobytes() or index.ids != old.ids or salt != old.salt
        )
        return table, diff

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
        found: _Lines,
        where_old: dict[int, int],
    ) -> list[tuple[int, int, list[str]]]:
        """Read the records of the lines that are not an imported record (their runs of
        lines, each record to its end); returns (data line, line, values) of each."""
        parsed: list[tuple[int, int, list[str]]] = []
        done = 0  # data lines before this one are decided
        for start, end in _runs(found):
            if end <= done:
                continue
            for chunk in lines.records(first + max(start, done), first + end):
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
                    parsed.append((at, line, row))
                    done = max(done, end_at)
        return parsed

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
        width = len(columns)
        size = 4_096
        for first in range(0, len(pending.positions), size):
            self.stop.check()
            positions = pending.positions[first : first + size]
            lines = pending.lines[first : first + size]
            rows = pending.rows[first : first + size]
            fine: list[int] = []
            if utf8 and all(map(width.__eq__, map(len, rows))):
                fine = list(range(len(rows)))
            else:
                for offset, values in enumerate(rows):
                    reason = record_problem(values, width, utf8)
                    if reason:
                        self.refuse(positions[offset], lines[offset], reason, index)
                        table.complete = False
                    else:
                        fine.append(offset)
            step.read(positions, lines, rows, fine)
        if step.block is not None:
            table.block = step.block
        return step.read_ids

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
        self.row_reader = reader.parser.reader(name, columns)
        self.bulk = reader.parser.appointment_bulk(columns) if name == APPOINTMENTS_FILE else None
        self.block = AppointmentBlock() if self.bulk is not None else None
        self.read_ids: set[bytes] = set()  # ids of the records read
        self.taken: set[str] = set()  # ids of the rows imported
        self.epoch_of: dict[datetime, int] = {}

    def read(
        self, positions: list[int], lines: list[int], rows: list[list[str]], fine: Sequence[int]
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

    def _block(self, got: AppointmentColumns, positions: list[int], lines: list[int]) -> None:
        """Appointments the bulk reader read: each id once, and not an unchanged row's."""
        assert self.block is not None
        ids = got.pms_id
        encoded = list(map(str.encode, ids))
        index_ids = self.index.ids
        for at, utf8 in zip(positions, encoded, strict=True):
            index_ids[at] = utf8
        self.read_ids.update(encoded)
        distinct = set(ids)
        if (
            len(distinct) < len(ids)
            or not self.taken.isdisjoint(distinct)
            or not self.unchanged.isdisjoint(encoded)
        ):
            keep = []
            for pms_id, utf8, at, line in zip(ids, encoded, positions, lines, strict=True):
                twice = pms_id in self.taken or utf8 in self.unchanged
                if twice:
                    self.reader.refuse(at, line, f"duplicate id {pms_id!r}", self.index)
                self.taken.add(pms_id)
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
        if pms_id in self.taken or encoded in self.unchanged:
            self.reader.refuse(at, line, f"duplicate id {pms_id!r}", index)
            return
        self.taken.add(pms_id)
        table.changed.append(Changed(parsed, line, at))
        start = getattr(parsed, "start", None)
        index.starts[at] = _epochs([start], self.epoch_of)[0] if start is not None else 0


_BLOCK = 64  # fingerprints compared as one string
_MOVED = 0.01  # more lines than this share not in place: look each one up


def _in_place(keys: array[int], old: array[int]) -> array[int] | None:
    """Per line, the old record at the same position when its bytes are the same (else
    -1); None when more than a few lines differ (rows moved: look them up instead). A
    line that moved is read again (and written only if it means something else)."""
    count = min(len(keys), len(old))
    new_bytes, old_bytes = keys[:count].tobytes(), old[:count].tobytes()
    olds = array("q", range(count))
    olds.extend(repeat(-1, len(keys) - count))
    differ = len(keys) - count
    size = 8 * _BLOCK
    for at in range(0, len(new_bytes), size):
        if new_bytes[at : at + size] == old_bytes[at : at + size]:
            continue
        for line in range(at // 8, min(count, (at + size) // 8)):
            if keys[line] != old[line] or not old[line]:
                olds[line] = -1
                differ += 1
        if differ > _MOVED * len(keys) + 100:
            return None
    return olds


def _first_copies(olds: array[int], size: int) -> None:
    """A later copy of a record (the same bytes as one before it in the file): not the
    old record but read, and reported as a duplicate (its ``olds`` entry set to -1)."""
    used = bytearray(size + 1)
    any(map(used.__setitem__, olds, repeat(1)))
    if used.count(1) - used[-1] == len(olds) - olds.count(-1):
        return  # each old record once
    seen: set[int] = set()
    for at, old in enumerate(olds):
        if old >= 0:
            if old in seen:
                olds[at] = -1
            seen.add(old)


def _runs(found: _Lines) -> list[tuple[int, int]]:
    """The runs of data lines (from, to) that are no record of the old index (blank
    lines apart)."""
    keys, olds = found.keys, found.olds
    where = [
        at
        for at in compress(range(len(olds)), map(lt, olds, repeat(0)))
        if keys[at] not in BLANK_KEYS
    ]
    runs: list[tuple[int, int]] = []
    for at in where:
        if runs and runs[-1][1] == at:
            runs[-1] = (runs[-1][0], at + 1)
        else:
            runs.append((at, at + 1))
    return runs


def _epochs(starts: Sequence[datetime], known: dict[datetime, int]) -> list[int]:
    """The epoch seconds of these (repeating) starts."""
    epochs = list(map(known.get, starts))
    if None in epochs:
        for start in set(compress(starts, map(is_, epochs, repeat(None)))):
            known[start] = int(start.timestamp())
        epochs = list(map(known.__getitem__, starts))
    return epochs  # type: ignore[return-value]
