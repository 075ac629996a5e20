"""The records the first reading of a CSV file found (:class:`Parsed`: the line each
starts on), those of them to turn into rows (:class:`Pending`) and their fingerprints
(:func:`record_fingerprints`); see :mod:`linker_tui.sync.csv_changes`."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from linker_tui.ingest.csv_file import CsvLines
from linker_tui.sync.csv_index import Entries, Keys, Mask

NARROW_LINES = 1 << 31  # files of fewer lines: records' lines kept in 32 bits (array "i")


@dataclass
class Pending:
    """Records to turn into rows (the new entries' positions, in order): their lines and
    values."""

    lines: Sequence[int] = field(default_factory=lambda: array("q"))
    rows: Iterable[list[str]] = ()


@dataclass
class Parsed:
    """The records the first reading found: the line each starts on and the line after
    it (32-bit below :data:`NARROW_LINES` lines), their values (None: not kept, read
    again when they are turned into rows), the ranges of lines read (to read them again),
    and the lines inside records over several lines (``covered``, per data line; None:
    there are none). Once read, lines one after another are a ``range``
    (:func:`as_range`: a first import's records hold no 4 bytes each)."""

    lines: array[int] | range = field(default_factory=lambda: array("q"))
    ends: array[int] = field(default_factory=lambda: array("q"))
    rows: list[list[str]] | None = None
    calls: array[int] = field(default_factory=lambda: array("q"))  # from, to, from, to...
    covered: Mask | None = None


def pending_records(
    parsed: Parsed, record_keys: Keys, wanted: Mask, code: str
) -> tuple[Pending, Entries]:
    """The records to turn into rows (those of ``wanted``) and their entries; in a first
    import, every record read (no copies of them)."""
    if wanted.all():
        return Pending(parsed.lines), Entries(record_keys)
    lines = to_array(numbers(parsed.lines)[wanted], code)
    return Pending(lines), Entries(record_keys[wanted])


def record_fingerprints(lines: CsvLines, first: int, parsed: Parsed) -> Keys:
    """The fingerprint of each record read: its line's, or that of its lines when it
    goes on over more (those lines are marked in ``parsed.covered``). Records of one line
    each, one after another (a first import), are the lines' own fingerprints (a view:
    not a copy of a million; :class:`Entries` clears a refused one only at the end)."""
    starts = numbers(parsed.lines) - 1
    ends = numbers(parsed.ends) - 1
    longer = np.flatnonzero(ends > starts + 1)
    if len(starts) == 0:
        return np.zeros(0, np.uint64)
    first_line, last_line = int(starts[0]), int(starts[-1])
    if not len(longer) and last_line - first_line == len(starts) - 1:
        return lines.keys[first_line : last_line + 1]  # one line each, in a row
    keys: Keys = lines.keys[starts]
    if len(longer):
        covered = np.zeros(lines.count - first, np.bool_)
        for at in longer.tolist():
            keys[at] = lines.key(int(starts[at]), int(ends[at]))
            covered[starts[at] + 1 - first : ends[at] - first] = True
        parsed.covered = covered
    return keys


def numbers(values: array[int] | range) -> npt.NDArray[np.signedinteger[Any]]:
    """An ``array`` of 32- or 64-bit ints as a NumPy array (no copy), or a range's."""
    if isinstance(values, range):
        return np.arange(values.start, values.stop, dtype=np.int64)
    return np.frombuffer(values, np.dtype(values.typecode))


def line_code(lines: CsvLines) -> str:
    """The ``array`` typecode of the file's line numbers (from 1): 32-bit below
    :data:`NARROW_LINES` lines."""
    return "i" if lines.count + 1 < NARROW_LINES else "q"


def as_range(lines: array[int] | range) -> array[int] | range:
    """Lines one after another (ascending: so when the last is the first + the count - 1)
    as a range."""
    if isinstance(lines, array) and len(lines) and lines[-1] - lines[0] == len(lines) - 1:
        return range(lines[0], lines[-1] + 1)
    return lines


def to_array(values: npt.NDArray[np.signedinteger[Any]], code: str) -> array[int]:
    """A NumPy array of ints as an ``array`` of typecode ``code`` (its items plain ints)."""
    out = array(code)
    out.frombytes(values.astype(np.dtype(code)).tobytes())
    return out
