"""The first connector: a folder of CSV exports (``providers.csv``, ``patients.csv``,
``appointments.csv``; columns in ``docs/sync.md``).

A CSV export has no change cursor, so this connector keeps, per file, an index of the
last run: for every record of the file, in file order, a 64-bit fingerprint of its bytes,
its id and (appointments) its start; a record that could not be imported has fingerprint
0, so it is read again. The next run fingerprints every record at C speed (no decoding,
no CSV parsing) and parses only the records whose fingerprint differs:

* *aligned*: compared position by position with the index (an export in a stable order
  with rows changed in place and new rows at the end: the usual case), one pass;
* otherwise (rows deleted, inserted or reordered) by set membership, a few passes.

An export of a million rows with a thousand changes costs a thousand parsed rows. Old
records whose fingerprint is gone and whose id is not in the file any more were deleted.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import time
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from heapq import merge
from itertools import compress, repeat
from operator import add, is_, is_not, itemgetter, ne, not_
from pathlib import Path
from typing import Any, TypeVar

from linker_tui.pms_export import (
    APPOINTMENTS_FILE,
    ID_COLUMNS,
    PATIENTS_FILE,
    PROVIDERS_FILE,
    AppointmentColumns,
    AppointmentRow,
    BadRow,
    ExportFormat,
    IgnoredRow,
    Records,
    RowParser,
    RowProblem,
    decode_columns,
    decode_records,
    has_open_quotes,
    header_columns,
    missing_columns,
    record_keys,
    split_records,
)
from linker_tui.sync.connector import AppointmentBlock, Changed, ChangeSet, TableChanges
from linker_tui.sync.control import StopFlag, run_io

R = TypeVar("R")

FILES = (PROVIDERS_FILE, PATIENTS_FILE, APPOINTMENTS_FILE)
_MAGIC = b"LTX3"
_ALIGNED_CHANGES = 1_000  # more differences than this (or 5 %): compare as sets
_HEAD = struct.Struct("<4sQBB")
_CHECK_EVERY = 20_000  # rows between stop checks while parsing
# A file changed this recently may still be being written, and a coarse file-system clock
# (FAT, SMB: 1-2 s) may not show a rewrite: such a file is always read.
_SETTLE_SECONDS = 5.0


@dataclass
class LineIndex:
    """Per record of a file, in file order: fingerprint (0: not imported), id, start
    (appointments; epoch seconds, 0 if none); and whether records span lines."""

    keys: array[int] = field(default_factory=lambda: array("Q"))
    ids: list[bytes] = field(default_factory=list)
    starts: array[int] = field(default_factory=lambda: array("q"))
    multiline: bool = False

    def to_bytes(self) -> bytes:
        """Pack (little-endian) for the ``sync_state`` table."""
        count = len(self.keys)
        with_starts = count > 0 and len(self.starts) == count
        keys, starts = _little(self.keys), _little(self.starts)
        return b"".join(
            (
                _HEAD.pack(_MAGIC, count, int(with_starts), int(self.multiline)),
                keys.tobytes(),
                starts.tobytes() if with_starts else b"",
                b"\0".join(self.ids),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LineIndex:
        """Unpack; anything unreadable gives an empty index (every row is read again)."""
        if len(data) < _HEAD.size:
            return cls()
        magic, count, with_starts, multiline = _HEAD.unpack_from(data)
        if magic != _MAGIC:
            return cls()
        offset = _HEAD.size
        keys = array("Q")
        keys.frombytes(data[offset : offset + 8 * count])
        offset += 8 * count
        starts = array("q")
        if with_starts:
            starts.frombytes(data[offset : offset + 8 * count])
            offset += 8 * count
        ids = data[offset:].split(b"\0") if count else []
        if len(keys) != count or len(ids) != count or (with_starts and len(starts) != count):
            return cls()
        if not with_starts:
            starts = array("q", bytes(8 * count))
        return cls(_little(keys), ids, _little(starts), bool(multiline))


def _little(values: array[int]) -> array[int]:
    if sys.byteorder == "little":
        return values
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped


@dataclass
class _FileDiff:
    """How one file compares with its index; ``index`` is the new index (before the
    engine refuses rows)."""

    old: LineIndex
    index: LineIndex
    gone: list[int] = field(default_factory=list)  # old positions not found in the file
    present: set[str] = field(default_factory=set)  # ids of rows read, not imported
    keep_all: bool = False  # the file could not be read: keep the old index
    dirty: bool = True  # the index differs from the old one (it is stored again)


class CsvFolderConnector:
    """Reads a folder of CSV exports; see the module docstring."""

    def __init__(self, folder: Path, fmt: ExportFormat, *, io_timeout: float = 60.0) -> None:
        self.folder = folder
        self.fmt = fmt
        self.io_timeout = io_timeout

    @property
    def source(self) -> str:
        """``csv:`` and the folder's absolute path."""
        return f"csv:{self.folder.expanduser().absolute()}"

    # ----------------------------------------------------------------- cursor
    def cursor(self, stop: StopFlag) -> str:
        """Size and modification time of each file, and the reading settings."""
        stats = run_io(self._stats, self.io_timeout, stop, f"looking at {self.folder}")
        digest = hashlib.sha256(self.fmt.fingerprint())
        now = time.time()
        for name, stat in zip(FILES, stats, strict=True):
            digest.update(f"{name}:{stat}".encode())
            if stat is not None and now - stat[1] / 1e9 < _SETTLE_SECONDS:
                digest.update(str(time.monotonic_ns()).encode())  # just written: read it
        return digest.hexdigest()[:40]

    def _stats(self) -> list[tuple[int, int] | None]:
        if not self.folder.is_dir():
            raise FileNotFoundError(f"the PMS export folder {self.folder} does not exist")
        out: list[tuple[int, int] | None] = []
        for name in FILES:
            try:
                stat = (self.folder / name).stat()
            except FileNotFoundError:
                out.append(None)
            else:
                out.append((stat.st_size, stat.st_mtime_ns))
        return out

    # ---------------------------------------------------------------- changes
    def changes(self, state: Mapping[str, bytes], stop: StopFlag) -> ChangeSet:
        """Read the three files and compare them with ``state`` (see the module doc)."""
        cursor = self.cursor(stop)
        parser = RowParser(self.fmt)
        problems: list[RowProblem] = []
        diffs: dict[str, _FileDiff] = {}
        tables: dict[str, TableChanges[Any]] = {}
        for name in FILES:
            old = LineIndex.from_bytes(state.get(name, b""))
            data = self._read(name, stop, problems)
            tables[name], diffs[name] = self._diff(name, data, old, parser, problems, stop)
        appointments: TableChanges[AppointmentRow] = tables[APPOINTMENTS_FILE]
        changes = ChangeSet(
            source=self.source,
            cursor=cursor,
            providers=tables[PROVIDERS_FILE],
            patients=tables[PATIENTS_FILE],
            appointments=appointments,
            problems=problems,
            window=_window(diffs[APPOINTMENTS_FILE]),
        )
        changes.state_builder = lambda c: _new_state(c, diffs)
        return changes

    def _read(self, name: str, stop: StopFlag, problems: list[RowProblem]) -> bytes | None:
        path = self.folder / name

        def read() -> bytes | None:
            try:
                before = path.stat()
                data = path.read_bytes()
                after = path.stat()
            except FileNotFoundError:
                problems.append(RowProblem(name, 0, "cannot open: the file is missing"))
                return None
            except OSError as exc:
                problems.append(RowProblem(name, 0, f"cannot open: {exc.strerror or exc}"))
                return None
            if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                problems.append(
                    RowProblem(name, 0, "the file changed while it was read; read next time")
                )
                return None
            return data

        return run_io(read, self.io_timeout, stop, f"reading {path}")

    def _diff(
        self,
        name: str,
        data: bytes | None,
        old: LineIndex,
        parser: RowParser,
        problems: list[RowProblem],
        stop: StopFlag,
    ) -> tuple[TableChanges[Any], _FileDiff]:
        table: TableChanges[Any] = TableChanges(
            file=name, previous=len(old.keys) - old.keys.count(0)
        )
        unread = _FileDiff(old, old, keep_all=True)
        if data is None:
            table.readable = False
            return table, unread
        multiline = old.multiline or not old.keys
        records = split_records(data, multiline=multiline)
        try:
            columns = header_columns(records.header)
        except UnicodeDecodeError:
            problems.append(RowProblem(name, 1, "the header is not UTF-8 text"))
            table.readable = False
            return table, unread
        missing = missing_columns(name, columns)
        if missing:
            problems.append(RowProblem(name, 1, f"missing column(s): {', '.join(missing)}"))
            table.readable = False
            return table, unread
        stop.check()
        salt = self.fmt.fingerprint() + name.encode() + b"\n" + records.header
        keys = record_keys(records.records, salt)
        compared = _compare(keys, old)
        if not multiline and has_open_quotes(records, compared.changed):
            # a changed record continues on the next line: cut the file again, carefully
            records = split_records(data)
            keys = record_keys(records.records, salt)
            compared = _compare(keys, old)
        stop.check()
        table.seen = len(keys)
        index = compared.index(keys, old)
        index.multiline = records.start_lines is not None
        diff = _FileDiff(old, index, compared.gone)
        diff.dirty = bool(
            compared.changed
            or compared.gone
            or len(keys) != len(old.keys)
            or index.multiline != old.multiline
        )
        gone_ids = {old.ids[p] for p in compared.gone} - {b""}
        width = len(columns)
        id_at = columns.index(ID_COLUMNS[name])
        fast = _read_in_bulk(records, compared.changed, columns, id_at, parser, name, stop)
        # rows read one by one (they say what is wrong, or are the same id as another):
        # those left by the bulk reading, and those of an id that is not plainly new
        slow = _slow_items(records, fast, width, name)
        suspect, fast_ids = _suspect_ids(
            fast.ids, {_id_of(v, id_at) for _, v, _ in slow if v}, stop
        )
        unchanged_ids: set[bytes] | None = None  # made when a parsed row's id needs it
        if fast.ids and any(old.ids):  # an id new here (not gone) may be an unchanged row's
            new_here = [
                (i, e) for i, e in zip(fast.ids, fast.encoded, strict=True) if e not in gone_ids
            ]
            if new_here:
                unchanged_ids = _unchanged(None, old, gone_ids)
                suspect.update(i for i, e in new_here if e in unchanged_ids)
        if suspect:
            moved = fast.take(suspect)
            slow = sorted(slow + list(decode_records(records, moved, width, name)))
        stop.check()
        parse = parser.reader(name, columns)
        is_appointment = name == APPOINTMENTS_FILE
        seen: set[str] = set()
        slow_changed: list[Changed[Any]] = []
        lines = records.start_lines
        epoch_of: dict[datetime, int] = {}
        index_keys, index_ids, index_starts = index.keys, index.ids, index.starts
        had_ids = any(old.ids)
        refused = diff.present  # ids of rows read but not imported (still in the file)
        for done, (at, values, problem) in enumerate(slow):
            if done % _CHECK_EVERY == 0:
                stop.check()
            line = lines[at] if lines is not None else at + 2
            if values is None:
                assert problem is not None
                problems.append(problem)
                index_keys[at], index_ids[at], index_starts[at] = 0, b"", 0
                continue
            pms_id = values[id_at].strip()
            encoded = pms_id.encode()
            # the id is remembered even if the row is refused: its disappearance is noticed
            index_ids[at] = encoded
            try:
                parsed: Any = parse(values)
                if "\0" in pms_id:
                    raise BadRow("the id holds a NUL character")
            except BadRow as exc:
                problems.append(RowProblem(name, line, str(exc)))
                index_keys[at] = index_starts[at] = 0
                if pms_id and "\0" not in pms_id:
                    refused.add(pms_id)
                else:
                    index_ids[at] = b""
                continue
            except IgnoredRow:
                table.ignored += 1
                index_keys[at], index_starts[at] = keys[at], 0
                refused.add(pms_id)
                continue
            if pms_id in seen or (
                had_ids
                and encoded not in gone_ids
                and encoded in (unchanged_ids := _unchanged(unchanged_ids, old, gone_ids))
            ):
                problems.append(RowProblem(name, line, f"duplicate id {pms_id!r}"))
                index_keys[at], index_ids[at], index_starts[at] = 0, b"", 0  # the other stands
                continue
            seen.add(pms_id)
            slow_changed.append(Changed(parsed, line, at))  # the position is the key to refuse
            index_keys[at] = keys[at]
            if is_appointment:
                start = parsed.start
                epoch = epoch_of.get(start)
                if epoch is None:
                    epoch = epoch_of[start] = int(start.timestamp())
                index_starts[at] = epoch
        # the rows read in bulk: new ids, each once
        fast_lines: list[int] = []
        for first in range(0, len(fast.positions), _CHECK_EVERY):
            stop.check()
            end = first + _CHECK_EVERY
            where = fast.positions[first:end]
            utf8 = fast.encoded[first:end]
            epochs: Sequence[int] = ()
            if fast.columns is not None:
                epochs = _epochs(fast.columns.start[first:end], epoch_of)
            if where[-1] - where[0] == len(where) - 1:  # consecutive records: the usual
                low, high = where[0], where[-1] + 1
                index_ids[low:high] = utf8
                index_keys[low:high] = array("Q", keys[low:high])
                if fast.columns is not None:
                    index_starts[low:high] = array("q", epochs)
            else:
                for at, one in zip(where, utf8, strict=True):
                    index_ids[at] = one
                    index_keys[at] = keys[at]
                if fast.columns is not None:
                    for at, epoch in zip(where, epochs, strict=True):
                        index_starts[at] = epoch
            fast_lines.extend(
                map(lines.__getitem__, where) if lines is not None else map(add, where, repeat(2))
            )
        if fast.columns is not None:
            table.block = AppointmentBlock(fast.columns, fast_lines, fast.positions)
            table.changed.extend(slow_changed)
        else:
            rows = list(map(Changed, fast.rows, fast_lines, fast.positions))
            table.changed.extend(
                merge(rows, slow_changed, key=itemgetter(2)) if slow_changed else rows
            )
        present = seen.union(fast_ids - suspect if suspect else fast_ids, refused)
        table.removed_ids = {i.decode("utf-8", "replace") for i in gone_ids} - present
        return table, diff


@dataclass
class _Bulk:
    """Records read in bulk, in file order: position, row (``rows``, or for appointments
    ``columns``), id (text and UTF-8); ``later``: the positions left to the row reader."""

    positions: list[int] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)
    columns: AppointmentColumns | None = None
    ids: list[str] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)
    later: list[int] = field(default_factory=list)

    def take(self, ids: set[str]) -> list[int]:
        """Remove the rows of these ids; returns their positions."""
        keep = [i not in ids for i in self.ids]
        taken = list(compress(self.positions, map(not_, keep)))
        self.positions = list(compress(self.positions, keep))
        self.rows = list(compress(self.rows, keep))
        if self.columns is not None:
            kept = AppointmentColumns()
            kept.extend(self.columns, keep)
            self.columns = kept
        self.ids = list(compress(self.ids, keep))
        self.encoded = list(compress(self.encoded, keep))
        return taken


def _id_of(values: list[str], at: int) -> str:
    return values[at].strip()


def _read_in_bulk(
    records: Records,
    indexes: Sequence[int],
    columns: list[str],
    id_at: int,
    parser: RowParser,
    name: str,
    stop: StopFlag,
) -> _Bulk:
    """Decode and read the records at ``indexes`` a slice at a time (appointments into
    columns, other rows into objects)."""
    out = _Bulk()
    appointments = parser.appointment_bulk(columns) if name == APPOINTMENTS_FILE else None
    bulk = parser.bulk(name, columns) if appointments is None else None
    if appointments is not None:
        out.columns = AppointmentColumns()
    for where, texts in decode_columns(records, indexes, len(columns), out.later):
        stop.check()
        if appointments is not None and out.columns is not None:
            got, keep = appointments(texts)
            out.columns.extend(got, None if all(keep) else keep)
        elif bulk is not None:
            rows = bulk(list(zip(*texts, strict=True)))
            keep = list(map(is_not, rows, repeat(None)))
            out.rows.extend(compress(rows, keep))
        out.positions.extend(compress(where, keep))
        out.later.extend(compress(where, map(not_, keep)))
        ids = list(map(str.strip, compress(texts[id_at], keep)))
        out.ids.extend(ids)
        out.encoded.extend(map(str.encode, ids))
    out.later.sort()
    return out


def _epochs(starts: Sequence[datetime], known: dict[datetime, int]) -> list[int]:
    """The epoch seconds of these (repeating) starts."""
    epochs = list(map(known.get, starts))
    if None in epochs:
        for start in set(compress(starts, map(is_, epochs, repeat(None)))):
            known[start] = int(start.timestamp())
        epochs = list(map(known.__getitem__, starts))
    return epochs  # type: ignore[return-value]


def _slow_items(
    records: Records, fast: _Bulk, width: int, name: str
) -> list[tuple[int, list[str] | None, RowProblem | None]]:
    """The records the bulk reading left, decoded one by one, in file order."""
    return list(decode_records(records, fast.later, width, name))


def _suspect_ids(
    ids: Sequence[str], slow_ids: set[str], stop: StopFlag
) -> tuple[set[str], set[str]]:
    """Ids of rows read in bulk that the row-by-row reading must see (a NUL in the id, an
    id twice in the file, or an id of a row read one by one), and all the ids."""
    suspect: set[str] = set()
    distinct: set[str] = set()
    for first in range(0, len(ids), _CHECK_EVERY):
        stop.check()
        part = ids[first : first + _CHECK_EVERY]
        new = set(part)
        if len(new) < len(part):
            suspect.update(i for i, n in Counter(part).items() if n > 1)
        suspect.update(new.intersection(distinct))
        suspect.update(new.intersection(slow_ids))
        if "\0" in "".join(part):
            suspect.update(i for i in part if "\0" in i)
        distinct.update(new)
    return suspect, distinct


def _unchanged(known: set[bytes] | None, old: LineIndex, gone: set[bytes]) -> set[bytes]:
    """The ids of the old index still in the file unchanged (made once, when needed)."""
    return known if known is not None else set(old.ids) - gone - {b""}


@dataclass
class _Compared:
    """Which records to parse (new positions) and which old ones are gone."""

    changed: list[int]
    gone: list[int]
    aligned: bool

    def index(self, keys: list[int], old: LineIndex) -> LineIndex:
        """The new index before parsing: unchanged records keep their old entry."""
        count = len(keys)
        if self.aligned:
            index = LineIndex(array("Q", old.keys), list(old.ids), array("q", old.starts))
            extra = count - len(old.keys)
            index.keys.extend(repeat(0, extra))
            index.ids.extend(repeat(b"", extra))
            index.starts.extend(repeat(0, extra))
            return index
        if not old.keys:
            return LineIndex(
                array("Q", bytes(8 * count)), [b""] * count, array("q", bytes(8 * count))
            )
        where = dict(zip(old.keys, range(len(old.keys)), strict=True))
        order = list(map(where.get, keys, repeat(0)))
        return LineIndex(
            array("Q", keys),
            list(map(old.ids.__getitem__, order)),
            array("q", map(old.starts.__getitem__, order)),
        )


def _compare(keys: list[int], old: LineIndex) -> _Compared:
    """Compare a file's record keys with the old index (see the module docstring)."""
    count, known = len(keys), len(old.keys)
    if not known:
        return _Compared(list(range(count)), [], aligned=False)
    if count >= known:
        differ = list(compress(range(known), map(ne, keys, old.keys)))
        if len(differ) <= max(_ALIGNED_CHANGES, known // 20):
            return _Compared(differ + list(range(known, count)), differ, aligned=True)
    new_set = set(keys)
    unknown = new_set.difference(old.keys)
    changed = list(compress(range(count), map(unknown.__contains__, keys))) if unknown else []
    if len(new_set) < count:  # the same record twice: read the copies to report them
        changed = sorted(set(changed) | _later_copies(keys))
    gone = list(compress(range(known), map(not_, map(new_set.__contains__, old.keys))))
    return _Compared(changed, gone, aligned=False)


def _later_copies(keys: Sequence[int]) -> set[int]:
    seen: set[int] = set()
    later: set[int] = set()
    for index, key in enumerate(keys):
        if key in seen:
            later.add(index)
        seen.add(key)
    return later


def _window(diff: _FileDiff) -> tuple[datetime, datetime] | None:
    """min..max start of the appointments in the export."""
    if diff.keep_all:
        return None
    starts = diff.index.starts
    nonzero = list(compress(starts, starts))
    if not nonzero:
        return None
    return datetime.fromtimestamp(min(nonzero), UTC), datetime.fromtimestamp(max(nonzero), UTC)


def _new_state(changes: ChangeSet, diffs: Mapping[str, _FileDiff]) -> dict[str, bytes]:
    """Each file's new index, without the rows the engine refused (read again next time)."""
    tables: dict[str, TableChanges[Any]] = {
        PROVIDERS_FILE: changes.providers,
        PATIENTS_FILE: changes.patients,
        APPOINTMENTS_FILE: changes.appointments,
    }
    state: dict[str, bytes] = {}
    for name, diff in diffs.items():
        if diff.keep_all or not diff.dirty:
            continue  # what is stored stays
        index = diff.index
        for at in tables[name].refused:  # the connector's keys are positions
            index.keys[at], index.starts[at] = 0, 0
        state[name] = index.to_bytes()
    return state
