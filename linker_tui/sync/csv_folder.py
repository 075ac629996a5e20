"""The first connector: a folder of CSV exports (``providers.csv``, ``patients.csv``,
``appointments.csv``; columns in ``docs/sync.md``).

A CSV export has no change cursor, so this connector keeps, per file, an index of the
last run (:mod:`linker_tui.sync.csv_index`, stored as a base and a delta:
:mod:`linker_tui.sync.csv_store`): per record, sorted by fingerprint, a 64-bit
fingerprint of its bytes, its id and (appointments) its start; a record that could not
be imported has fingerprint 0, so it is read again. The next run fingerprints the lines
of each file and hands the csv module only those whose fingerprint the index does not
hold (:mod:`linker_tui.sync.csv_changes`). Old records whose fingerprint is gone and
whose id is not in the file any more were deleted, unless the file has records that
could not be read (their ids are unknown: nothing is cancelled for such a file).
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import xxhash

from linker_tui.ingest.csv_file import CsvLines
from linker_tui.ingest.pms_export import (
    APPOINTMENTS_FILE,
    PATIENTS_FILE,
    PROVIDERS_FILE,
    AppointmentRow,
    ExportFormat,
    RowParser,
    RowProblem,
)
from linker_tui.sync.connector import ChangeSet, TableChanges
from linker_tui.sync.control import StopFlag, run_io
from linker_tui.sync.csv_changes import FileReader
from linker_tui.sync.csv_index import FileDiff, LineIndex
from linker_tui.sync.csv_store import DELTA, StoredIndex, load_index, store_index
from linker_tui.sync.state import StateValue

T = TypeVar("T")
FILES = (PROVIDERS_FILE, PATIENTS_FILE, APPOINTMENTS_FILE)
_STAMP = "#file"  # state name suffix: what the file was when its index was made
_STAMP_MAGIC = b"LTS5"  # (LTX4 held a CRC-32: such a stamp is not used, the file is read)
_STAMP_FORMAT = struct.Struct("<4sQQQQ32s")  # magic, size, mtime_ns, digest, records, settings
_HASHED_BLOCK = 1 << 20  # bytes hashed at a time (a file is never held whole to be hashed)
# A file changed this recently may still be being written, and a coarse file-system clock
# (FAT, SMB: 1-2 s) may not show a rewrite: such a file is always read.
_SETTLE_SECONDS = 5.0


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
    def changes(self, state: MutableMapping[str, bytes], stop: StopFlag) -> ChangeSet:
        """Read the three files and compare them with ``state`` (see the module doc); a
        file's stored index is taken out of ``state`` once read (the bytes of a base
        merged with its delta are freed then, not at the end of the reading)."""
        cursor = self.cursor(stop)
        parser = RowParser(self.fmt)
        problems: list[RowProblem] = []
        diffs: dict[str, FileDiff] = {}
        tables: dict[str, TableChanges[Any]] = {}
        stamps: dict[str, FileStamp | None] = {}
        settings = self.fmt.fingerprint()
        stored: dict[str, StoredIndex] = {}  # the files read (the others: not even unpacked)
        for name in FILES:
            old_stamp = FileStamp.unpack(state.get(name + _STAMP, b""), settings)

            def old(name: str = name) -> LineIndex:
                stored[name] = load_index(state, name)
                for key in (name, name + DELTA):  # a base merged with its delta: let go
                    if key in state:  # (deleted unread: a delta not used is not read)
                        del state[key]
                return stored[name].index

            tables[name], diffs[name], stamps[name] = self._file(
                name, old_stamp, old, parser, problems, stop
            )
        appointments: TableChanges[AppointmentRow] = tables[APPOINTMENTS_FILE]
        changes = ChangeSet(
            source=self.source,
            cursor=cursor,
            providers=tables[PROVIDERS_FILE],
            patients=tables[PATIENTS_FILE],
            appointments=appointments,
            problems=problems,
        )
        if appointments.batches is None:
            changes.window = _window(diffs[APPOINTMENTS_FILE])
        else:  # read while written: the starts are known at the end
            appointments.batches = _then(
                appointments.batches, lambda: _set_window(changes, diffs[APPOINTMENTS_FILE])
            )
        patients = changes.patients
        if patients.row_batches is not None:  # its problems come while others' are read
            patients.row_batches = _then(patients.row_batches, lambda: _by_file(problems))
            if appointments.batches is not None:
                appointments.batches = _then(appointments.batches, lambda: _by_file(problems))
        changes.state_builder = lambda c: _new_state(c, diffs, stamps, stored)
        return changes

    def _file(
        self,
        name: str,
        old_stamp: FileStamp | None,
        old: Callable[[], LineIndex],
        parser: RowParser,
        problems: list[RowProblem],
        stop: StopFlag,
    ) -> tuple[TableChanges[Any], FileDiff, FileStamp | None]:
        """One file's changes, and its new stamp (None: keep the stored one). A file
        whose every record was imported last time and that is the same is not read: the
        same size and modification time, or else the same size and hash of its bytes
        (:func:`_hashed`, before it is read to be parsed)."""
        unchanged = FileDiff(LineIndex(), keep_all=True)
        if old_stamp is not None and old_stamp.complete:
            path = self.folder / name
            stat = run_io(lambda: _stat(path), self.io_timeout, stop, "looking")
            if stat is not None and old_stamp.same_stat(*stat):
                return old_stamp.table(name), unchanged, None
            seen = run_io(lambda: _hashed(path), self.io_timeout, stop, f"reading {path}")
            settings = old_stamp.settings
            if seen is not None and old_stamp.same_bytes(seen):
                seen.records, seen.complete, seen.settings = old_stamp.records, True, settings
                return old_stamp.table(name), unchanged, seen
        data, stat = self._read(name, stop, problems)
        stamp = None
        if data is not None and stat is not None:
            stamp = FileStamp(*stat, data[1], 0, self.fmt.fingerprint())
        reader = FileReader(name, parser, self.fmt.fingerprint(), problems, stop)
        table, diff = reader.diff(data[0] if data is not None else None, old())
        return table, diff, stamp

    def _read(
        self, name: str, stop: StopFlag, problems: list[RowProblem]
    ) -> tuple[tuple[CsvLines, int] | None, tuple[int, int] | None]:
        """The file's lines and the hash of its bytes (:meth:`CsvLines.of_file`: the
        bytes are not held), and (size, modification time) as they were read."""
        path = self.folder / name

        def read() -> tuple[tuple[CsvLines, int] | None, tuple[int, int] | None]:
            try:
                before = path.stat()
                data = CsvLines.of_file(path)
                after = path.stat()
            except FileNotFoundError:
                problems.append(RowProblem(name, 0, "cannot open: the file is missing"))
                return None, None
            except OSError as exc:
                problems.append(RowProblem(name, 0, f"cannot open: {exc.strerror or exc}"))
                return None, None
            if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                problems.append(
                    RowProblem(name, 0, "the file changed while it was read; read next time")
                )
                return None, None
            return data, (after.st_size, after.st_mtime_ns)

        return run_io(read, self.io_timeout, stop, f"reading {path}")


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _hashed(path: Path) -> FileStamp | None:
    """The file's size, time and hash of its bytes, read a block at a time (None: it
    cannot be read, or changed meanwhile). No settings: compared with ``same_bytes``."""
    digest = xxhash.xxh3_64()
    block = bytearray(_HASHED_BLOCK)
    view = memoryview(block)
    try:
        before = path.stat()
        with path.open("rb", buffering=0) as handle:
            while size := handle.readinto(block):
                digest.update(view[:size])
        after = path.stat()
    except OSError:
        return None
    stat = (after.st_size, after.st_mtime_ns)
    if (before.st_size, before.st_mtime_ns) != stat:
        return None
    return FileStamp(*stat, digest.intdigest(), 0, b"")


@dataclass
class FileStamp:
    """What a file was when its index was made: size, modification time, hash of its
    bytes (64-bit XXH3), its records and whether every one was imported (``complete``),
    with the reading settings."""

    size: int
    mtime_ns: int
    digest: int
    records: int
    settings: bytes
    complete: bool = False

    @classmethod
    def unpack(cls, data: bytes, settings: bytes) -> FileStamp | None:
        """A stored stamp; None if there is none, or it was made with other settings."""
        if len(data) != _STAMP_FORMAT.size:
            return None
        magic, size, mtime_ns, digest, records, made_with = _STAMP_FORMAT.unpack(data)
        if magic != _STAMP_MAGIC or made_with != settings:
            return None
        return cls(size, mtime_ns, digest, records >> 1, made_with, bool(records & 1))

    def pack(self) -> bytes:
        """For the ``sync_state`` table."""
        records = self.records << 1 | int(self.complete)
        return _STAMP_FORMAT.pack(
            _STAMP_MAGIC, self.size, self.mtime_ns, self.digest, records, self.settings
        )

    def same_stat(self, size: int, mtime_ns: int) -> bool:
        """Same size and modification time, and that long enough ago to be sure (a file
        changed in the last seconds may still be being written, or its time be coarse)."""
        settled = time.time() - mtime_ns / 1e9 >= _SETTLE_SECONDS
        return settled and (size, mtime_ns) == (self.size, self.mtime_ns)

    def same_bytes(self, other: FileStamp) -> bool:
        """The same size and hash of the bytes."""
        return (self.size, self.digest) == (other.size, other.digest)

    def table(self, name: str) -> TableChanges[Any]:
        """The changes of a file that did not change: none."""
        return TableChanges(file=name, seen=self.records, previous=self.records)


def _then(batches: Iterator[T], done: Callable[[], None]) -> Iterator[T]:
    """``batches``, then ``done()``."""
    yield from batches
    done()


def _by_file(problems: list[RowProblem]) -> None:
    """The problems in the order of the files (each file's in line order already)."""
    problems.sort(key=lambda p: FILES.index(p.file) if p.file in FILES else len(FILES))


def _set_window(changes: ChangeSet, diff: FileDiff) -> None:
    changes.window = _window(diff)


def _window(diff: FileDiff) -> tuple[datetime, datetime] | None:
    """min..max start of the appointments in the export."""
    if diff.keep_all:
        return None
    window = diff.window()
    if window is None:
        return None
    return datetime.fromtimestamp(window[0], UTC), datetime.fromtimestamp(window[1], UTC)


def _new_state(
    changes: ChangeSet,
    diffs: Mapping[str, FileDiff],
    stamps: Mapping[str, FileStamp | None],
    stored: Mapping[str, StoredIndex],
) -> dict[str, StateValue]:
    """Each file's new index, without the rows the engine refused (read again next
    time), and its stamp."""
    tables: dict[str, TableChanges[Any]] = {
        PROVIDERS_FILE: changes.providers,
        PATIENTS_FILE: changes.patients,
        APPOINTMENTS_FILE: changes.appointments,
    }
    state: dict[str, StateValue] = {}
    for name, diff in diffs.items():
        stamp = stamps[name]
        if diff.keep_all:
            if stamp is not None:  # the same bytes, a new modification time
                state[name + _STAMP] = stamp.pack()
            continue  # what is stored stays
        refused = tables[name].refused  # the connector's keys are the new records' positions
        if refused:
            diff.complete = False
        records = diff.old.imported
        if diff.dirty:
            rows, records = store_index(name, stored[name], diff, refused)
            state.update(rows)
        if stamp is not None:
            stamp.records = records
            stamp.complete = diff.complete
            state[name + _STAMP] = stamp.pack()
    return state
