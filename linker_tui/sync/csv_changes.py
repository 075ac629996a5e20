"""What changed in one file of a CSV export since the last run (see
:mod:`linker_tui.sync.csv_folder`).

The file is read with the csv module (:func:`linker_tui.ingest.csv_file.read_csv`), a chunk of
records at a time; each record gets a 64-bit fingerprint of its values, and only the
records whose fingerprint the last run did not import are turned into typed rows
(appointments column by column, :meth:`RowParser.appointment_bulk`; a row that reader
refuses is read again by the row reader, which says why).

A record that cannot be read at all (the wrong number of values, bytes that are not
UTF-8, a field the csv module refuses) is reported with its line, and makes the file
*incomplete*: the ids it held are unknown, so nothing missing from such a file is
cancelled.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress, repeat
from operator import is_, not_
from typing import Any

from linker_tui.ingest.csv_file import CsvChunk, read_csv, record_keys
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

_SALT = b"csv-module-1\n"  # a new fingerprint scheme: every record of an old index differs


@dataclass
class LineIndex:
    """Per record of a file, in file order: fingerprint (0: not imported), id, start
    (appointments; epoch seconds, 0 if none)."""

    keys: array[int] = field(default_factory=lambda: array("Q"))
    ids: list[bytes] = field(default_factory=list)
    starts: array[int] = field(default_factory=lambda: array("q"))


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
        self._seen: set[int] = set()  # fingerprints of the records compared so far

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
        csv = read_csv(data)
        reason = header_problem(name, csv.columns)
        if reason:
            self.problems.append(RowProblem(name, csv.header_line, reason))
            table.readable = False
            return table, unread
        columns = csv.columns
        reported = len(self.problems)
        salt = (
            self.salt
            + _SALT
            + name.encode()
            + b"\n"
            + "\x1f".join(columns).encode("utf-8", "surrogateescape")
        )
        where_old = dict(zip(old.keys, range(len(old.keys)), strict=True))
        where_old.pop(0, None)  # records not imported: read again
        index = LineIndex()
        pending = _Pending()
        for chunk in csv.chunks:
            self.stop.check()
            if chunk.unreadable:
                table.complete = False
                self.problems.extend(RowProblem(name, line, why) for line, why in chunk.unreadable)
            self._compare(chunk, record_keys(chunk.rows, salt), where_old, old, index, pending)
        table.seen = len(index.keys)
        present = self._seen  # every fingerprint of the file
        gone = list(compress(range(len(old.keys)), map(not_, map(present.__contains__, old.keys))))
        gone_ids = {old.ids[at] for at in gone} - {b""}
        unchanged = set(old.ids) - gone_ids - {b""} if pending.positions else set()
        read_ids = self._rows(table, pending, columns, csv.utf8, index, unchanged)
        table.removed_ids = {i.decode("utf-8", "replace") for i in gone_ids - read_ids}
        self.problems[reported:] = sorted(self.problems[reported:], key=lambda p: p.line)
        diff = FileDiff(old, index)
        diff.dirty = index.keys != old.keys or index.ids != old.ids
        return table, diff

    def _compare(
        self,
        chunk: CsvChunk,
        keys: list[int],
        where_old: dict[int, int],
        old: LineIndex,
        index: LineIndex,
        pending: _Pending,
    ) -> None:
        """Add a chunk's records to the new index: an unchanged one (its fingerprint is in
        the old index, the first time in this file) keeps its old entry; the others wait to
        be read (``pending``)."""
        first = len(index.keys)
        olds: list[int | None] = list(map(where_old.get, keys)) if where_old else [None] * len(keys)
        seen = self._seen
        if where_old and (not seen.isdisjoint(keys) or len(set(keys)) < len(keys)):
            olds = _first_copies(keys, olds, seen)
        else:
            seen.update(keys)
        index.keys.extend(keys)
        if None not in olds:  # all unchanged: the usual re-run
            index.ids.extend(map(old.ids.__getitem__, olds))  # type: ignore[arg-type]
            index.starts.extend(map(old.starts.__getitem__, olds))  # type: ignore[arg-type]
            return
        if not where_old:  # all new: a first import
            index.ids.extend(repeat(b"", len(keys)))
            index.starts.extend(repeat(0, len(keys)))
        else:
            index.ids.extend(old.ids[at] if at is not None else b"" for at in olds)
            index.starts.extend(old.starts[at] if at is not None else 0 for at in olds)
        for offset in compress(range(len(keys)), map(is_, olds, repeat(None))):
            pending.positions.append(first + offset)
            pending.lines.append(chunk.lines[offset])
            pending.rows.append(chunk.rows[offset])

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


def _first_copies(keys: list[int], olds: list[int | None], seen: set[int]) -> list[int | None]:
    """``olds`` with a later copy of a record (its fingerprint already ``seen`` in this
    file) set to None: it is read, and reported as a duplicate. Adds ``keys`` to ``seen``."""
    out: list[int | None] = []
    for key, at in zip(keys, olds, strict=True):
        out.append(None if key in seen else at)
        seen.add(key)
    return out


def _epochs(starts: Sequence[datetime], known: dict[datetime, int]) -> list[int]:
    """The epoch seconds of these (repeating) starts."""
    epochs = list(map(known.get, starts))
    if None in epochs:
        for start in set(compress(starts, map(is_, epochs, repeat(None)))):
            known[start] = int(start.timestamp())
        epochs = list(map(known.__getitem__, starts))
    return epochs  # type: ignore[return-value]
