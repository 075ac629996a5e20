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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress, repeat
from operator import ne, not_
from pathlib import Path
from typing import Any, TypeVar

from linker_tui.pms_export import (
    APPOINTMENTS_FILE,
    ID_COLUMNS,
    PATIENTS_FILE,
    PROVIDERS_FILE,
    AppointmentRow,
    BadRow,
    ExportFormat,
    IgnoredRow,
    RowParser,
    RowProblem,
    decode_records,
    has_open_quotes,
    header_columns,
    missing_columns,
    record_keys,
    split_records,
)
from linker_tui.sync.connector import Changed, ChangeSet, TableChanges
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
        records = split_records(data, multiline=old.multiline or not old.keys)
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
        if records.start_lines is None and has_open_quotes(records, compared.changed):
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
        unchanged_ids: set[bytes] | None = None  # made when a parsed row's id needs it
        parse = parser.reader(name, columns)
        id_at = columns.index(ID_COLUMNS[name])
        is_appointment = name == APPOINTMENTS_FILE
        seen: set[str] = set()
        changed = table.changed
        lines = records.start_lines
        epoch_of: dict[datetime, int] = {}
        index_keys, index_ids, index_starts = index.keys, index.ids, index.starts
        had_ids = any(old.ids)
        width = len(columns)
        refused = diff.present  # ids of rows read but not imported (still in the file)
        for done, (at, values, problem) in enumerate(
            decode_records(records, compared.changed, width, name)
        ):
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
            changed.append(Changed(parsed, line, at))  # the position is the key to refuse it
            index_keys[at] = keys[at]
            if is_appointment:
                start = parsed.start
                epoch = epoch_of.get(start)
                if epoch is None:
                    epoch = epoch_of[start] = int(start.timestamp())
                index_starts[at] = epoch
        present = seen | refused
        table.removed_ids = {i.decode("utf-8", "replace") for i in gone_ids} - present
        return table, diff


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
