"""The first connector: a folder of CSV exports (``providers.csv``, ``patients.csv``,
``appointments.csv``; columns in ``docs/sync.md``).

A CSV export has no change cursor, so this connector keeps, per file, an index of the
last run: for every record of the file, in file order, a 64-bit fingerprint of its
values, its id and (appointments) its start; a record that could not be imported has
fingerprint 0, so it is read again. The next run reads every record with the csv module
and turns into typed rows only those whose fingerprint the index does not hold
(:mod:`linker_tui.sync.csv_changes`). Old records whose fingerprint is gone and whose id
is not in the file any more were deleted, unless the file has records that could not be
read (their ids are unknown: nothing is cancelled for such a file).
"""

from __future__ import annotations

import hashlib
import struct
import sys
import time
from array import array
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path
from typing import Any

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
from linker_tui.sync.csv_changes import FileDiff, FileReader, LineIndex

FILES = (PROVIDERS_FILE, PATIENTS_FILE, APPOINTMENTS_FILE)
_MAGIC = b"LTX3"
_HEAD = struct.Struct("<4sQBB")
# A file changed this recently may still be being written, and a coarse file-system clock
# (FAT, SMB: 1-2 s) may not show a rewrite: such a file is always read.
_SETTLE_SECONDS = 5.0


def pack_index(index: LineIndex) -> bytes:
    """An index packed (little-endian) for the ``sync_state`` table."""
    count = len(index.keys)
    with_starts = count > 0 and len(index.starts) == count
    keys, starts = _little(index.keys), _little(index.starts)
    return b"".join(
        (
            _HEAD.pack(_MAGIC, count, int(with_starts), 0),
            keys.tobytes(),
            starts.tobytes() if with_starts else b"",
            b"\0".join(index.ids),
        )
    )


def unpack_index(data: bytes) -> LineIndex:
    """An index from :func:`pack_index`; anything unreadable gives an empty index (every
    row is read again)."""
    if len(data) < _HEAD.size:
        return LineIndex()
    magic, count, with_starts, _multiline = _HEAD.unpack_from(data)
    if magic != _MAGIC:
        return LineIndex()
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
        return LineIndex()
    if not with_starts:
        starts = array("q", bytes(8 * count))
    return LineIndex(_little(keys), ids, _little(starts))


def _little(values: array[int]) -> array[int]:
    if sys.byteorder == "little":
        return values
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped


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
        diffs: dict[str, FileDiff] = {}
        tables: dict[str, TableChanges[Any]] = {}
        for name in FILES:
            old = unpack_index(state.get(name, b""))
            data = self._read(name, stop, problems)
            reader = FileReader(name, parser, self.fmt.fingerprint(), problems, stop)
            tables[name], diffs[name] = reader.diff(data, old)
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


def _window(diff: FileDiff) -> tuple[datetime, datetime] | None:
    """min..max start of the appointments in the export."""
    if diff.keep_all:
        return None
    starts = diff.index.starts
    nonzero = list(compress(starts, starts))
    if not nonzero:
        return None
    return datetime.fromtimestamp(min(nonzero), UTC), datetime.fromtimestamp(max(nonzero), UTC)


def _new_state(changes: ChangeSet, diffs: Mapping[str, FileDiff]) -> dict[str, bytes]:
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
        state[name] = pack_index(index)
    return state
