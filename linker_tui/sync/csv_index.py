"""The index of a file's records (:class:`LineIndex`, kept from one run to the next)
and how the lines of the file as it is now compare with it: which old record each line
is, in place or moved (see :mod:`linker_tui.sync.csv_changes`)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import lt, not_

from linker_tui.ingest.csv_file import BLANK_KEYS


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
class Lines:
    """Per data line of the file (from the header's end): whether a record starts there,
    its fingerprint and the position of that record in the old index (-1: none)."""

    starts: bytearray
    keys: array[int]
    olds: array[int]


def matched(keys: array[int], old: LineIndex, salt: bytes) -> tuple[Lines, dict[int, int]]:
    """The data lines of a file (their fingerprints ``keys``) against the old index: which
    old record each line is (in place, or looked up), and where each old fingerprint was
    (when looked up)."""
    found = Lines(bytearray(), keys, array("q"))
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
    return found, where_old


def gone_ids(old: LineIndex, olds: array[int]) -> set[bytes]:
    """The ids of the old records no line is any more."""
    used = bytearray(len(old.keys) + 1)
    any(map(used.__setitem__, olds, repeat(1)))
    gone = list(compress(range(len(old.keys)), map(not_, used)))
    return {old.ids[at] for at in gone} - {b""}


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


def runs(found: Lines) -> list[tuple[int, int]]:
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
