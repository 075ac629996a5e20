"""The ids a run looks up as it reads: those taken so far in the run (:class:`SeenIds`: a
row whose id an earlier row of the run took is a duplicate), those of the old records
still in the file (:class:`KnownIds`: a record read with the id of an unchanged one is
a duplicate) and those of the old records gone from it (:class:`GoneIds`: removed
unless a record read has the id)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from linker_tui.sync.csv_index import (
    GATHER,
    Entries,
    Keys,
    LineIndex,
    Mask,
    Short,
    Where,
    id_key,
    id_keys,
    id_starts,
)
from linker_tui.sync.csv_match import found_in


def short_keys(keys: Keys) -> Short:
    """The high 32 bits of each :func:`id_key` hash (where ids' bytes are compared)."""
    return (keys >> np.uint64(32)).astype(np.uint32)


class SeenIds:
    """The ids taken so far in a run (each an entry's): up to :attr:`small` in a set (a row
    at a time is cheap), the others in a few sorted levels of their hashes' high 32 bits
    (:func:`short_keys`) with where they are among the entries (bytes compared on a hit):
    8 bytes an id, not a set's 70 MB a million. Levels are merged up to :attr:`biggest`
    ids (a million ids: a few full levels and a few small ones)."""

    small = 1 << 18
    biggest = 1 << 18  # ids in a level at most: a merge never copies a million of them

    def __init__(self, entries: Entries) -> None:
        self.entries = entries
        self.recent: dict[bytes, int] = {}  # id -> its entry
        self.levels: list[tuple[Short, Where]] = []

    def add(self, positions: Sequence[int], ids: Sequence[bytes]) -> None:
        """The ids ``ids`` of the entries at ``positions`` are taken."""
        if len(positions) == 1:
            self.recent[ids[0]] = positions[0]
            if len(self.recent) > self.small:
                self._level(list(self.recent.values()), list(self.recent))
                self.recent = {}
        elif len(positions):
            self._level(positions, ids)

    def _level(self, positions: Sequence[int], ids: Sequence[bytes]) -> None:
        where = np.asarray(positions, np.int32)  # (entries: fewer than 2**31)
        keys = short_keys(id_keys(ids))
        order = np.argsort(keys, kind="stable")
        level = (keys[order], where[order])
        while (
            self.levels
            and len(self.levels[-1][0]) <= 2 * len(level[0])
            and len(self.levels[-1][0]) + len(level[0]) <= self.biggest
        ):
            level = _merged_level(self.levels.pop(), level)
        self.levels.append(level)

    def __contains__(self, pms_id: object) -> bool:
        if not isinstance(pms_id, bytes):
            return False
        if pms_id in self.recent:
            return True
        key = np.uint32(id_key(pms_id) >> 32)
        for keys, where in self.levels:
            at = int(np.searchsorted(keys, key))
            while at < len(keys) and keys[at] == key:
                if self.entries.id(int(where[at])) == pms_id:
                    return True
                at += 1
        return False

    def isdisjoint(self, ids: Iterable[bytes]) -> bool:
        """None of ``ids`` is taken."""
        wanted = list(ids)
        if not self.recent.keys().isdisjoint(wanted):
            return False
        if not self.levels:
            return True
        hashes = short_keys(id_keys(wanted))
        hit = np.zeros(len(wanted), np.bool_)
        for keys, _where in self.levels:
            hit |= found_in(keys, hashes)
        return not any(wanted[at] in self for at in np.flatnonzero(hit).tolist())


def _merged_level(first: tuple[Short, Where], second: tuple[Short, Where]) -> tuple[Short, Where]:
    """Two sorted levels of :class:`SeenIds` as one (in one pass, no sort)."""
    keys, where = first
    more, more_where = second
    total = len(keys) + len(more)
    slots = np.searchsorted(keys, more, side="right")
    slots += np.arange(len(more), dtype=slots.dtype)
    mine = np.ones(total, np.bool_)
    mine[slots] = False
    out_keys, out_where = np.empty(total, keys.dtype), np.empty(total, where.dtype)
    out_keys[slots], out_keys[mine] = more, keys
    out_where[slots], out_where[mine] = more_where, where
    return out_keys, out_where


class KnownIds:
    """The ids of the old records still in the file (``used``), looked up by the high 32
    bits of their hashes (the bytes compared on a hit): one sorted array of those bits
    and where each id is (8 bytes an id, sorted in place, no argsort of a million)."""

    def __init__(self, old: LineIndex, used: Mask) -> None:
        wanted = used & (old.id_lens > 0) if len(used) else np.zeros(0, np.bool_)
        packed = np.empty(int(np.count_nonzero(wanted)), np.uint64)
        done = 0
        for first in range(0, len(wanted), GATHER):  # (no array of every position)
            where = np.flatnonzero(wanted[first : first + GATHER]) + first
            part = packed[done : done + len(where)]
            part[:] = old.id_keys[where]  # (an index has fewer than 2^32 records)
            part >>= np.uint64(32)
            part <<= np.uint64(32)
            part |= where.view(np.uint64)  # (positions: not negative)
            done += len(where)
        del wanted
        packed.sort()
        self.packed: Keys = packed
        self.old = old

    def _id(self, at: int) -> bytes:
        """The id of the old record at ``at`` (where it starts found for it alone: no
        array of every id's place; a hit is rare)."""
        start = int(id_starts(self.old.id_lens, np.array([at], np.int64))[0])
        return self.old.id_blob[start : start + int(self.old.id_lens[at])].tobytes()

    def __contains__(self, pms_id: object) -> bool:
        if not isinstance(pms_id, bytes) or len(self.packed) == 0:
            return False
        first = np.uint64((id_key(pms_id) >> 32) << 32)
        at = int(np.searchsorted(self.packed, first))
        while at < len(self.packed) and int(self.packed[at]) >> 32 == int(first) >> 32:
            if self._id(int(self.packed[at]) & 0xFFFFFFFF) == pms_id:
                return True
            at += 1
        return False

    def isdisjoint(self, ids: Iterable[bytes]) -> bool:
        """None of ``ids`` is one of these."""
        if len(self.packed) == 0:
            return True
        wanted = list(ids)
        firsts = (id_keys(wanted) >> np.uint64(32)) << np.uint64(32)
        at = np.minimum(np.searchsorted(self.packed, firsts), len(self.packed) - 1)
        hits = np.flatnonzero((self.packed[at] >> np.uint64(32)) == (firsts >> np.uint64(32)))
        return not any(wanted[at] in self for at in hits.tolist())


class GoneIds:
    """The ids of the old records no line is any more, and whether a record read this
    run has one (then it is not removed): each as its hash, where its bytes are in the
    old index and how long they are (19 bytes an id, sorted by hash), not a set of
    bytes; the bytes compared on a hash's hit."""

    def __init__(self, old: LineIndex, used: Mask) -> None:
        where = np.flatnonzero(~used) if len(used) else np.zeros(0, np.int64)
        where = where[old.id_lens[where] > 0]
        starts = id_starts(old.id_lens, where)
        order = np.argsort(old.id_keys[where], kind="stable")
        where, self.starts = where[order], starts[order]
        self.keys: Keys = old.id_keys[where]
        self.lens = old.id_lens[where]
        self.read = np.zeros(len(where), np.bool_)
        self.blob = old.id_blob

    def __bool__(self) -> bool:
        return bool(len(self.keys))

    def _id(self, at: int) -> bytes:
        start = int(self.starts[at])
        return self.blob[start : start + int(self.lens[at])].tobytes()

    def saw(self, ids: Sequence[bytes]) -> None:
        """Records read have these ids (those of them gone are not removed)."""
        if not len(self.keys) or not ids:
            return
        hashes = id_keys(ids)
        at = np.minimum(np.searchsorted(self.keys, hashes), len(self.keys) - 1)
        for hit in np.flatnonzero(self.keys[at] == hashes).tolist():
            where = int(at[hit])
            while where < len(self.keys) and self.keys[where] == hashes[hit]:
                if self._id(where) == ids[hit]:
                    self.read[where] = True
                where += 1

    def removed(self) -> set[bytes]:
        """The ids gone that no record read has."""
        return {self._id(at) for at in np.flatnonzero(~self.read).tolist()}
