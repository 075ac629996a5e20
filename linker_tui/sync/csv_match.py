"""How the lines of a file as it is now compare with the index of its records kept from
the last run (:class:`linker_tui.sync.csv_index.LineIndex`): which lines are old records
(:func:`match_lines`, :func:`settle`), which must be read (:func:`runs`), and which ids
of the records read an unchanged record has (:func:`unchanged_ids`).

Whole-array operations (NumPy), as in :mod:`linker_tui.sync.csv_index`: the index is
sorted by fingerprint, so rows in place and rows moved cost the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linker_tui.ingest.csv_file import BLANK_KEYS
from linker_tui.sync.csv_index import GATHER, Keys, LineIndex, Mask, Short, id_keys


def unchanged_ids(old: LineIndex, used: Mask, ids: set[bytes]) -> set[bytes]:
    """Those of ``ids`` that an old record still in the file (``used``) has."""
    if not ids or not np.any(used):
        return set()
    wanted = _unique(id_keys(list(ids)))
    hits = np.flatnonzero(used & _found_few(wanted, old.id_keys))
    return ids.intersection(old.ids(hits.tolist())) if len(hits) else set()


@dataclass
class Matched:
    """The data lines of a file against an old index: per line, whether it must be read
    (no old record is that line); per old record, whether a line is it (``used``)."""

    needs: Mask
    used: Mask


def match_lines(keys: Keys, old: LineIndex) -> Matched:
    """Which lines (their fingerprints ``keys``, in file order) are old records. A line
    whose bytes come twice is the old record once: its later copies are read (and
    reported as duplicates)."""
    count = len(keys)
    live = int(np.searchsorted(old.keys, np.uint64(0), side="right"))  # 0: not imported, read again
    if count == 0 or live == len(old):
        return Matched(np.ones(count, np.bool_), np.zeros(len(old), np.bool_))
    known = old.keys[live:]
    ordered = np.sort(keys)
    hit = found_in(known, ordered)
    twice = np.zeros(count, np.bool_)
    twice[1:] = ordered[1:] == ordered[:-1]
    doubled = _unique(ordered[twice & hit])
    wanted = _unique(ordered[~hit])
    if len(doubled):
        wanted = np.union1d(wanted, doubled)
    needs = _found_few(wanted, keys)
    if len(doubled):
        _first_copies(keys, needs, doubled)
    del hit, twice
    used = np.zeros(len(old), np.bool_)  # (an old record a line is: a line not read)
    used[live:] = found_in(ordered, known) & _firsts(known)
    return Matched(needs, used)


def found_in(sorted_keys: Keys | Short, keys: Keys | Short) -> Mask:
    """Per key, whether it is one of ``sorted_keys``."""
    found = np.zeros(len(keys), np.bool_)
    if len(sorted_keys) == 0:
        return found
    last = len(sorted_keys) - 1
    for first in range(0, len(keys), GATHER):  # a part at a time: small temporaries
        part = keys[first : first + GATHER]
        found[first : first + GATHER] = (
            sorted_keys[np.minimum(np.searchsorted(sorted_keys, part), last)] == part
        )
    return found


def _found_few(sorted_keys: Keys, keys: Keys) -> Mask:
    """:func:`found_in` for a few ``sorted_keys`` among many ``keys``: a table of their
    low bits first (one look-up per key), then a search for the keys it lets through (a
    part of ``keys`` at a time: small temporaries)."""
    if len(sorted_keys) * 16 > len(keys):
        return found_in(sorted_keys, keys)
    size = 1 << max(16, (64 * len(sorted_keys)).bit_length())
    low = np.uint64(size - 1)
    table = np.zeros(size, np.bool_)
    table[sorted_keys & low] = True
    found = np.zeros(len(keys), np.bool_)
    for first in range(0, len(keys), GATHER):
        part = keys[first : first + GATHER]
        maybe = np.flatnonzero(table[part & low])
        found[first + maybe] = found_in(sorted_keys, part[maybe])
    return found


def _unique(keys: Keys) -> Keys:
    """The distinct keys, sorted."""
    ordered = np.sort(keys)
    return ordered[_firsts(ordered)]


def _firsts(sorted_keys: Keys) -> Mask:
    """Per key, whether it is the first of its value."""
    first = np.ones(len(sorted_keys), np.bool_)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return first


def _first_copies(keys: Keys, needs: Mask, doubled: Keys) -> None:
    """The first line of each doubled fingerprint is the old record (not read)."""
    seen: set[int] = set()
    for at in np.flatnonzero(_found_few(doubled, keys)).tolist():
        key = int(keys[at])
        if key not in seen:
            seen.add(key)
            needs[at] = False


def settle(
    keys: Keys,
    found: Matched,
    old: LineIndex,
    covered: Mask | None,
    record_keys: Keys,
) -> Mask:
    """Once the lines to read were read: which of the records read are an old record
    after all (one over several lines, whose lines matched nothing alone); ``covered``
    marks the lines inside such records (a line there that matched an old record is no
    record: that old record is not used after all). Updates ``found.used``."""
    live = int(np.searchsorted(old.keys, np.uint64(0), side="right"))
    known = old.keys[live:]
    if covered is not None and np.any(covered & ~found.needs):
        alone = _unique(keys[~found.needs & ~covered & ~_blank(keys)])
        found.used[live:] = found_in(alone, known) & _firsts(known)
    unchanged = np.zeros(len(record_keys), np.bool_)
    if len(known) == 0 or len(record_keys) == 0:
        return unchanged
    candidates = np.flatnonzero(found_in(known, record_keys)).tolist()
    for at in candidates:  # few: records over several lines, later copies
        where = live + int(np.searchsorted(known, record_keys[at]))
        if not found.used[where]:
            found.used[where] = True
            unchanged[at] = True
    return unchanged


def runs(keys: Keys, needs: Mask) -> list[tuple[int, int]]:
    """The runs of lines (from, to) to read (blank lines apart)."""
    where = np.flatnonzero(needs)
    where = where[~_blank(keys[where])]
    if len(where) == 0:
        return []
    breaks = np.flatnonzero(np.diff(where) != 1)
    firsts = np.concatenate(([where[0]], where[breaks + 1]))
    lasts = np.concatenate((where[breaks], [where[-1]])) + 1
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))


def _blank(keys: Keys) -> Mask:
    """Per key, whether it is a blank line's."""
    blank = np.zeros(len(keys), np.bool_)
    for key in BLANK_KEYS:
        blank |= keys == np.uint64(key)
    return blank
