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

A big import (more than :attr:`FileReader.stream_over` patient or appointment records
to read, the first import above all) is never held whole: the records are found in a
first reading that keeps only their lines, then read again a few thousand at a time,
turned into rows and handed to the engine, which writes each batch before the next is
read (:attr:`TableChanges.batches`, :attr:`TableChanges.row_batches`; the engine's
transaction is open meanwhile). What depends on the whole file (the ids gone from it,
whether it was read whole, its date window) is known once the last batch was read.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import partial
from itertools import compress, islice, repeat
from operator import is_
from typing import Any, Protocol

import numpy as np

from linker_tui.ingest.csv_file import CsvLines, read_header
from linker_tui.ingest.pms_export import (
    APPOINTMENTS_FILE,
    ID_COLUMNS,
    MAX_ID_LENGTH,
    PATIENTS_FILE,
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
from linker_tui.sync.csv_index import Entries, FileDiff, LineIndex, Mask
from linker_tui.sync.csv_match import match_lines, runs, settle, unchanged_ids
from linker_tui.sync.csv_records import (
    Parsed,
    Pending,
    as_range,
    line_code,
    pending_records,
    record_fingerprints,
)
from linker_tui.sync.memory import return_freed_memory
from linker_tui.sync.seen_ids import GoneIds, KnownIds, SeenIds

_STREAMED = (PATIENTS_FILE, APPOINTMENTS_FILE)  # files read while written when big
_SALT = b"csv-lines-2\n"  # a new fingerprint scheme: an old index is read again whole


class IdSet(Protocol):
    """Ids (UTF-8) looked up: a set, or :class:`KnownIds`."""

    def __contains__(self, pms_id: object) -> bool: ...

    def isdisjoint(self, ids: Iterable[bytes]) -> bool: ...


class FileReader:
    """Reads one file of an export against its old index. A patients or appointments
    file with more than ``stream_over`` records to read is read twice instead of being
    held whole: once to find the records, then a batch at a time while the engine writes
    them (:attr:`TableChanges.batches`, :attr:`TableChanges.row_batches`)."""

    stream_over = 50_000
    batch_size = 4_096  # records turned into rows at a time (a streamed file's batches)

    def __init__(
        self, name: str, parser: RowParser, salt: bytes, problems: list[RowProblem], stop: StopFlag
    ) -> None:
        self.name = name
        self.parser = parser
        self.salt = salt
        self.problems = problems
        self.stop = stop

    def diff(
        self, data: CsvLines | bytes | None, old: LineIndex
    ) -> tuple[TableChanges[Any], FileDiff]:
        """The changes of the file whose lines (or bytes) are ``data`` (None: it could not
        be read)."""
        name = self.name
        table: TableChanges[Any] = TableChanges(file=name, previous=old.imported)
        unread = FileDiff(old, keep_all=True)
        if data is None:
            table.readable = False
            return table, unread
        lines = data if isinstance(data, CsvLines) else CsvLines(data)
        csv = read_header(lines)
        reason = header_problem(name, csv.columns)
        if reason:
            self.problems.append(RowProblem(name, csv.header_line, reason))
            table.readable = False
            return table, unread
        reported = len(self.problems)
        salt = self._salt(csv.columns)
        first = csv.data_start
        keys = lines.keys[first:]
        same = old.salt == salt
        found = match_lines(keys, old if same else LineIndex())
        to_read = runs(keys, found.needs)
        stream = self.name in _STREAMED and sum(e - s for s, e in to_read) > self.stream_over
        parsed = self._parse(table, lines, first, to_read, keep_rows=not stream)
        record_keys = record_fingerprints(lines, first, parsed)
        parsed.ends = array("q")  # (needed for the fingerprints only: a million let go)
        parsed.lines = as_range(parsed.lines)
        if same:
            pending_mask = ~settle(keys, found, old, parsed.covered, record_keys)
        else:
            pending_mask = np.ones(len(record_keys), np.bool_)
            found.used = np.zeros(len(old), np.bool_)
        pending, entries = pending_records(parsed, record_keys, pending_mask, line_code(lines))
        table.seen = int(np.count_nonzero(found.used)) + len(entries.keys)
        diff = FileDiff(old, found.used, entries, salt)
        gone = GoneIds(old, found.used)
        finish = partial(self._finish, table, diff, gone, reported)
        if stream:
            pending.rows = self._again(lines, parsed, pending_mask)
            step = _Step(self, table, csv.columns, entries, KnownIds(old, found.used), gone)
            batches = self._batches(table, pending, lines.utf8, step, finish)
            if step.bulk is None:
                table.row_batches = batches
            else:
                table.batches = batches
            return table, diff
        assert parsed.rows is not None
        pending.rows = list(compress(parsed.rows, pending_mask.tolist()))
        unchanged = self._unchanged(csv.columns, pending, old, found.used)
        self._rows(
            table, pending, lines.utf8, _Step(self, table, csv.columns, entries, unchanged, gone)
        )
        finish()
        return table, diff

    def _finish(
        self,
        table: TableChanges[Any],
        diff: FileDiff,
        gone: GoneIds,
        reported: int,
    ) -> None:
        """Once every record was read: the ids gone from the file, its problems in line
        order (after those of other files read meanwhile), whether it was read whole."""
        table.removed_ids = {i.decode("utf-8", "replace") for i in gone.removed()}
        tail = self.problems[reported:]
        mine = sorted((p for p in tail if p.file == self.name), key=lambda p: p.line)
        self.problems[reported:] = [p for p in tail if p.file != self.name] + mine
        diff.complete = table.complete and not mine

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
        to_read: list[tuple[int, int]],
        *,
        keep_rows: bool,
    ) -> Parsed:
        """Read the records of the runs of lines ``to_read`` (each record to its end):
        the line each starts on, the line after it and (``keep_rows``) its values."""
        if not keep_rows:  # a big read: freed memory goes back at once (small: glibc's own)
            return_freed_memory()
        starts = array(line_code(lines))
        parsed = Parsed(starts, array(starts.typecode), [] if keep_rows else None)
        done = 0  # data lines before this one are decided
        for start, end in to_read:
            if end <= done:
                continue
            parsed.calls.extend((first + max(start, done), first + end))
            for chunk in lines.records(*parsed.calls[-2:]):
                self.stop.check()
                if chunk.unreadable:
                    table.complete = False
                    self.problems.extend(
                        RowProblem(self.name, at, why) for at, why in chunk.unreadable
                    )
                starts.extend(chunk.lines)
                parsed.ends.extend(chunk.ends)
                if parsed.rows is not None:
                    parsed.rows.extend(chunk.rows)
                if chunk.ends:
                    done = max(done, chunk.ends[-1] - 1 - first)
        return parsed

    def _again(self, lines: CsvLines, parsed: Parsed, wanted: Mask) -> Iterator[list[str]]:
        """The values of the records to turn into rows, read again (the file's bytes are
        the same: so are its records; checked line by line)."""
        done = 0
        calls = parsed.calls
        for at in range(0, len(calls), 2):
            for chunk in lines.records(calls[at], calls[at + 1]):
                self.stop.check()
                count = len(chunk.lines)
                if chunk.lines != list(parsed.lines[done : done + count]):
                    raise RuntimeError(f"{self.name}: line {chunk.lines[0]} read differently twice")
                keep = wanted[done : done + count]
                done += count
                if keep.all():
                    yield from chunk.rows
                else:
                    yield from compress(chunk.rows, keep.tolist())

    def _unchanged(
        self, columns: list[str], pending: Pending, old: LineIndex, used: Mask
    ) -> set[bytes]:
        """The ids of the pending records that an unchanged record has too."""
        id_at = columns.index(ID_COLUMNS[self.name])
        wanted = {
            row[id_at].strip().encode("utf-8", "surrogateescape")
            for row in pending.rows
            if len(row) > id_at
        }
        wanted.discard(b"")
        return unchanged_ids(old, used, wanted)

    def _rows(self, table: TableChanges[Any], pending: Pending, utf8: bool, step: _Step) -> None:
        """Turn the pending records into rows (into ``table``) and fix their entries."""
        for _ in self._convert(table, pending, utf8, step):
            pass
        if step.block is not None:
            table.block = step.block

    def _batches(
        self,
        table: TableChanges[Any],
        pending: Pending,
        utf8: bool,
        step: _Step,
        finish: Callable[[], None],
    ) -> Iterator[Any]:
        """The pending records turned into rows a batch at a time (appointments column by
        column, :class:`AppointmentBlock`; the others as a list of :class:`Changed`);
        ``finish`` is called once they all were read."""
        for _ in self._convert(table, pending, utf8, step):
            batch: AppointmentBlock | list[Changed[Any]]
            if step.block is None:
                batch, table.changed = table.changed, []
            else:
                batch = merged_block(table.changed, step.block)
                table.changed, step.block = [], AppointmentBlock()
            if len(batch):
                yield batch
        finish()

    def _convert(
        self, table: TableChanges[Any], pending: Pending, utf8: bool, step: _Step
    ) -> Iterator[None]:
        """Turn the pending records into rows (into ``step``), a few thousand at a time,
        and fix their entries; yields after each few thousand."""
        width = step.width
        size = self.batch_size
        records = iter(pending.rows)
        for first in range(0, len(pending.lines), size):
            self.stop.check()
            lines = pending.lines[first : first + size]
            positions = range(first, first + len(lines))
            rows = list(islice(records, len(lines)))
            fine: list[int] = []
            if utf8 and all(map(width.__eq__, map(len, rows))):
                fine = list(range(len(rows)))
            else:
                for offset, values in enumerate(rows):
                    reason = record_problem(values, width, utf8)
                    if reason:
                        self.refuse(positions[offset], lines[offset], reason, step.entries)
                        table.complete = False
                    else:
                        fine.append(offset)
            step.read(positions, lines, rows, fine)
            yield

    def refuse(
        self, at: int, line: int, reason: str, entries: Entries, *, keep_id: bool = False
    ) -> None:
        """A record not imported: reported, read again next time; its id is kept (so its
        disappearance is noticed) only when it was read (``keep_id``)."""
        self.problems.append(RowProblem(self.name, line, reason))
        entries.refuse(at, keep_id=keep_id)


class _Step:
    """Turns pending records into rows, a step (a few thousand records) at a time."""

    def __init__(
        self,
        reader: FileReader,
        table: TableChanges[Any],
        columns: list[str],
        entries: Entries,
        unchanged: IdSet,
        gone: GoneIds,
    ) -> None:
        name = reader.name
        self.reader, self.table, self.entries, self.unchanged = reader, table, entries, unchanged
        self.id_at = columns.index(ID_COLUMNS[name])
        self.width = len(columns)
        self.row_reader = reader.parser.reader(name, columns)
        self.bulk = reader.parser.appointment_bulk(columns) if name == APPOINTMENTS_FILE else None
        self.block = AppointmentBlock() if self.bulk is not None else None
        self.gone = gone  # the ids gone from the file: those read are not removed
        self.taken = SeenIds(entries)  # ids of the rows imported
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
        self.entries.set_ids(positions, encoded)
        self.gone.saw(encoded)
        distinct = set(encoded)
        if (
            len(distinct) < len(ids)
            or not self.taken.isdisjoint(distinct)
            or not self.unchanged.isdisjoint(encoded)
        ):
            keep = []
            batch: set[bytes] = set()
            for pms_id, utf8, at, line in zip(ids, encoded, positions, lines, strict=True):
                twice = utf8 in batch or utf8 in self.taken or utf8 in self.unchanged
                if twice:
                    self.reader.refuse(at, line, f"duplicate id {pms_id!r}", self.entries)
                batch.add(utf8)
                keep.append(not twice)
            kept = AppointmentColumns()
            kept.extend(got, keep)
            got = kept
            positions = list(compress(positions, keep))
            lines = list(compress(lines, keep))
            encoded = list(compress(encoded, keep))
        self.taken.add(positions, encoded)
        self.entries.set_starts(positions, _epochs(got.start, self.epoch_of))
        self.block.columns.extend(got)
        self.block.lines.extend(lines)
        self.block.keys.extend(positions)

    def _one(self, at: int, line: int, values: list[str]) -> None:
        """A record read by the row reader (it says what is wrong with it)."""
        entries, table = self.entries, self.table
        pms_id = values[self.id_at].strip()
        encoded = pms_id.encode()
        readable = 0 < len(pms_id) <= MAX_ID_LENGTH
        if readable:
            entries.set_ids([at], [encoded])
            self.gone.saw([encoded])
        try:
            parsed = self.row_reader([*values, ""])
        except BadRow as exc:
            self.reader.refuse(at, line, str(exc), entries, keep_id=readable)
            return
        except IgnoredRow:
            table.ignored += 1
            return
        if encoded in self.taken or encoded in self.unchanged:
            self.reader.refuse(at, line, f"duplicate id {pms_id!r}", entries)
            return
        self.taken.add([at], [encoded])
        table.changed.append(Changed(parsed, line, at))
        start = getattr(parsed, "start", None)
        if start is not None:
            entries.set_starts([at], _epochs([start], self.epoch_of))


def _epochs(starts: Sequence[datetime], known: dict[datetime, int]) -> list[int]:
    """The epoch seconds of these (repeating) starts."""
    epochs = list(map(known.get, starts))
    if None in epochs:
        for start in set(compress(starts, map(is_, epochs, repeat(None)))):
            known[start] = int(start.timestamp())
        epochs = list(map(known.__getitem__, starts))
    return epochs  # type: ignore[return-value]
