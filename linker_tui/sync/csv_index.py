"""The index of a file's records, kept from one run to the next (:class:`LineIndex`), and
the next run's index made as the old one plus this run's changes (:meth:`FileDiff.index`);
how the lines of the file as it is now compare with it: :mod:`linker_tui.sync.csv_match`.

Everything here is a whole-array operation (NumPy): a million records are compared,
kept or added without a Python object each. The index is sorted by fingerprint, so rows
in place and rows moved cost the same: the lines' fingerprints are sorted once and
looked up in the old ones, and only what changed is touched one by one.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import xxhash

Keys = npt.NDArray[np.uint64]
Ints = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]
Lens = npt.NDArray[np.uint16]  # bytes of each id: up to 64 characters, 4 bytes each
Mask = npt.NDArray[np.bool_]
Where = npt.NDArray[np.int32]  # positions among a run's entries
Short = npt.NDArray[np.uint32]  # the high 32 bits of ids' hashes (``seen_ids.short_keys``)
BlobAt = npt.NDArray[np.uint32] | npt.NDArray[np.int64]  # where ids are in a blob
Starts = npt.NDArray[np.int32] | npt.NDArray[np.int64]  # epoch seconds, 32-bit while they fit

_ARRAYS = ("keys", "id_keys", "starts", "id_lens", "id_blob")  # a LineIndex's arrays
GATHER = 1 << 16  # ids gathered at a time (their byte positions fit in the CPU's cache)
_INT32 = np.iinfo(np.int32)


def id_key(pms_id: bytes) -> int:
    """The 64-bit hash of an id (0: no id)."""
    return xxhash.xxh3_64_intdigest(pms_id) if pms_id else 0


def id_keys(ids: Sequence[bytes]) -> Keys:
    """:func:`id_key` of each id."""
    return np.fromiter(map(id_key, ids), np.uint64, len(ids))


@dataclass
class LineIndex:
    """Per record of a file, sorted by fingerprint: the fingerprint of its bytes (0: not
    imported, read again), the hash of its id (:func:`id_key`), its start (appointments;
    epoch seconds, 0 if none) and its id (``id_blob``, ``id_lens`` bytes each, in the
    same order). ``salt`` names how the records were read (header, settings): an index
    of another salt matches nothing. ``complete``: every record was imported."""

    keys: Keys = field(default_factory=lambda: np.zeros(0, np.uint64))
    id_keys: Keys = field(default_factory=lambda: np.zeros(0, np.uint64))
    starts: Starts = field(default_factory=lambda: np.zeros(0, np.int64))
    id_lens: Lens = field(default_factory=lambda: np.zeros(0, np.uint16))
    id_blob: Bytes = field(default_factory=lambda: np.zeros(0, np.uint8))
    salt: bytes = b""
    complete: bool = False

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def imported(self) -> int:
        """The records imported (fingerprint not 0)."""
        return int(np.count_nonzero(self.keys))

    def subset(self, keep: Mask) -> LineIndex:
        """The records of ``keep`` (the same salt and completeness)."""
        lens = self.id_lens[keep]
        blob = np.empty(int(lens.sum(dtype=np.int64)), np.uint8)
        done = at = 0  # bytes before the part: of the index's ids, of those kept
        for first in range(0, len(keep), GATHER):  # a part at a time: no mask of every byte
            part = self.id_lens[first : first + GATHER]
            size = int(part.sum(dtype=np.int64))
            mine = self.id_blob[done : done + size][np.repeat(keep[first : first + GATHER], part)]
            blob[at : at + len(mine)] = mine
            done, at = done + size, at + len(mine)
        return LineIndex(
            self.keys[keep],
            self.id_keys[keep],
            self.starts[keep],
            lens,
            blob,
            self.salt,
            self.complete,
        )

    def ids(self, positions: Iterable[int]) -> list[bytes]:
        """The ids of the records at these positions (the ids' bytes are not copied
        whole for them)."""
        at = np.fromiter(positions, np.int64)
        order = np.argsort(at, kind="stable")
        starts = np.empty(len(at), np.int64)
        starts[order] = id_starts(self.id_lens, at[order])
        ends = starts + self.id_lens[at]
        view = self.id_blob.data  # (a memoryview: the bytes not copied)
        return [view[s:e].tobytes() for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def id_starts(lens: Lens, at: Ints) -> Ints:
    """Where the ids at the positions ``at`` (ascending) start among ids of ``lens`` bytes
    each, one after another (a part at a time: no array of every id's place)."""
    out = np.empty(len(at), np.int64)
    done = 0  # the ids' bytes before the part
    for first in range(0, len(lens), GATHER):
        part = lens[first : first + GATHER]
        low, high = np.searchsorted(at, [first, first + len(part)])
        if high > low:
            before = np.cumsum(part, dtype=np.int64) - part
            out[low:high] = done + before[at[low:high] - first]
        done += int(part.sum(dtype=np.int64))
    return out


@dataclass
class Entries:
    """The records read this run (those no old record is), in file order: fingerprint,
    start (epoch seconds; 32-bit while every start fits, then 64-bit), its id (in
    ``blob``) and how long it is. The ids' hashes are made once, for the index
    (:meth:`FileDiff.index`); the records refused are noted (``refused``) and their
    fingerprints cleared there too: ``keys`` may be the file's own lines' fingerprints,
    which the second reading of a streamed file still checks its lines against.

    While ids come in the records' order (a clean export), where each is in ``blob``
    is not kept (4 bytes a record): only where every :attr:`mark`-th record's is, and
    the ids of refused records are dropped only when the ids are placed (:meth:`place`:
    for the index, or once an id comes out of order); then ``id_at`` holds where each
    is (32-bit while the blob is under :attr:`narrow` bytes, then 64-bit)."""

    narrow: ClassVar[int] = 1 << 32
    mark: ClassVar[int] = 256
    keys: Keys
    starts: Starts = field(init=False)
    id_lens: Lens = field(init=False)
    id_at: BlobAt | None = None  # None: in order (``marks``)
    blob: bytearray = field(default_factory=bytearray)
    refused: array[int] = field(default_factory=lambda: array("q"))
    marks: array[int] = field(default_factory=lambda: array("q"))  # of records 0, mark...
    dropped: array[int] = field(default_factory=lambda: array("q"))  # ids not kept
    last: int = -1  # the last record whose id came in order

    def __post_init__(self) -> None:
        count = len(self.keys)
        self.starts = np.zeros(count, np.int32)
        self.id_lens = np.zeros(count, np.uint16)

    def set_ids(self, positions: Sequence[int], ids: Sequence[bytes]) -> None:
        """The ids of the records at ``positions``."""
        lens = np.fromiter(map(len, ids), np.int64, len(ids))
        where = np.asarray(positions, np.int64)
        if not len(where):
            return
        if self.id_at is None and (int(where[0]) <= self.last or bool(np.any(np.diff(where) <= 0))):
            self.place()  # out of order
        places = len(self.blob) + np.cumsum(lens) - lens
        if self.id_at is None:
            marked = np.arange(len(self.marks), int(where[-1]) // self.mark + 1) * self.mark
            self.marks.extend(places[np.searchsorted(where, marked)].tolist())
            self.last = int(where[-1])
        else:
            if self.id_at.dtype != np.int64 and len(self.blob) + int(lens.sum()) >= self.narrow:
                self.id_at = self.id_at.astype(np.int64)
            self.id_at[where] = places
        self.id_lens[where] = lens
        self.blob += b"".join(ids)

    def place(self) -> BlobAt:
        """Where each id is in ``blob`` (kept from now on; the ids dropped meanwhile
        dropped now)."""
        if self.id_at is None:
            wide = len(self.blob) >= self.narrow
            at: BlobAt = (
                np.empty(len(self.id_lens), np.int64)
                if wide
                else np.empty(len(self.id_lens), np.uint32)
            )
            done = 0
            for first in range(0, len(at), GATHER):  # (no array of every id's end)
                part = self.id_lens[first : first + GATHER]
                at[first : first + len(part)] = done + np.cumsum(part, dtype=np.int64) - part
                done += int(part.sum(dtype=np.int64))
            self.id_at = at
            self.id_lens[np.frombuffer(self.dropped, np.int64)] = 0
            self.marks, self.dropped = array("q"), array("q")
        return self.id_at

    def set_starts(self, positions: Sequence[int], epochs: Sequence[int]) -> None:
        """The starts (epoch seconds) of the records at ``positions`` (the starts widened
        to 64 bits once one does not fit in 32)."""
        values = np.asarray(epochs, np.int64)
        narrow = self.starts.dtype != np.int64 and len(values)
        if narrow and (int(values.min()) < _INT32.min or int(values.max()) > _INT32.max):
            self.starts = self.starts.astype(np.int64)
        self.starts[np.asarray(positions, np.int64)] = values

    def id(self, at: int) -> bytes:
        """The id of the record at ``at``."""
        if self.id_at is not None:
            start = int(self.id_at[at])
        else:  # from the mark before it
            first = at - at % self.mark
            start = self.marks[first // self.mark] + int(self.id_lens[first:at].sum())
        return bytes(self.blob[start : start + int(self.id_lens[at])])

    def refuse(self, at: int, *, keep_id: bool) -> None:
        """The record at ``at`` is not imported: read again next time; its id is kept
        only when ``keep_id`` (so its disappearance is noticed)."""
        self.refused.append(at)
        self.starts[at] = 0
        if not keep_id:
            if self.id_at is None:
                self.dropped.append(at)  # (its bytes in ``blob``: the marks stay true)
            else:
                self.id_lens[at] = 0


@dataclass
class FileDiff:
    """How one file compares with its old index: the old records still in the file
    (``used``) and the records read (``new``). ``keep_all``: the file was not read (the
    same as last time, or unreadable): the old index stays."""

    old: LineIndex
    used: Mask = field(default_factory=lambda: np.zeros(0, np.bool_))
    new: Entries = field(default_factory=lambda: Entries(np.zeros(0, np.uint64)))
    salt: bytes = b""
    complete: bool = False
    keep_all: bool = False

    @property
    def dirty(self) -> bool:
        """The index differs from the old one (it is stored again)."""
        old = self.old
        same = (
            len(self.new.keys) == 0
            and bool(np.all(self.used))
            and (self.salt, self.complete) == (old.salt, old.complete)
        )
        return not same

    def window(self) -> tuple[int, int] | None:
        """min..max start (epoch seconds) of the records in the file."""
        ends: list[int] = []
        for starts, mask in ((self.old.starts, self.used), (self.new.starts, None)):
            for first in range(0, len(starts), GATHER):  # a part at a time: no copies
                part = starts[first : first + GATHER]
                if mask is not None:
                    part = part[mask[first : first + GATHER]]
                part = part[part != 0]
                if len(part):
                    ends += (int(part.min()), int(part.max()))
        return (min(ends), max(ends)) if ends else None

    def index(
        self, refused: Iterable[int] = (), keep: Mask | None = None, *, last: bool = False
    ) -> LineIndex:
        """The next run's index: the old records still in the file (or those of
        ``keep``) and the records read (those in ``refused`` not imported: read again
        next time). The records read are put in fingerprint order in place, an array
        at a time (a million of them are not copied whole): once per diff, their
        positions mean nothing after it. ``last``: the old index is not used again (its
        arrays are let go as they are merged: ``old`` is empty afterwards)."""
        new = self.new
        wrong = np.concatenate(
            (np.frombuffer(new.refused, np.int64), np.fromiter(refused, np.int64))
        )
        new.keys[wrong], new.starts[wrong] = 0, 0
        order = np.argsort(new.keys, kind="stable").astype(np.int32)  # (fewer than 2**31)
        new.keys.sort()  # in place (the same as ``new.keys[order]``, without a copy)
        new.starts = new.starts[order]
        id_at = new.place()[order]
        new.id_lens = new.id_lens[order]
        new.id_at = None
        del order
        blob = _gather(np.frombuffer(new.blob, np.uint8), id_at, new.id_lens)
        del id_at
        new.blob = bytearray()
        added = LineIndex(new.keys, _id_keys(blob, new.id_lens), new.starts, new.id_lens, blob)
        index = merged(self.old, added, self.used if keep is None else keep, consume=last)[0]
        index.salt, index.complete = self.salt, self.complete
        return index

    def imported(self) -> int:
        """The records of the next run's index that were imported (after :meth:`index`
        was told the refused ones)."""
        live = int(np.searchsorted(self.old.keys, np.uint64(0), side="right"))  # 0: first
        kept = np.count_nonzero(self.used[live:])
        return int(kept + np.count_nonzero(self.new.keys))


def _gather(blob: Bytes, starts: BlobAt, lens: Lens) -> Bytes:
    """The bytes ``blob[start : start + len]`` of each (start, len), one after another
    (found a part at a time: no array of every id's place)."""
    out = np.empty(int(lens.sum(dtype=np.int64)), np.uint8)
    base = 0  # where the part's first id goes
    for first in range(0, len(lens), GATHER):
        size = lens[first : first + GATHER].astype(np.int64)
        total = int(size.sum())
        begin = np.cumsum(size) - size  # where each id goes, from ``base``
        where = np.repeat(starts[first : first + GATHER].astype(np.int64) - begin, size)
        out[base : base + total] = blob[where + np.arange(total)]
        base += total
    return out


def _id_keys(blob: Bytes, lens: Lens) -> Keys:
    """:func:`id_key` of each id of ``blob`` (``lens`` bytes each, one after another)."""
    out = np.zeros(len(lens), np.uint64)
    base = 0  # where the part's first id starts
    for first in range(0, len(lens), GATHER):  # a part at a time: no million bytes objects
        cuts = np.cumsum(lens[first : first + GATHER], dtype=np.int64).tolist()
        data = blob[base : base + cuts[-1]].tobytes()
        begins = [0, *cuts[:-1]]
        ids = [data[b:e] for b, e in zip(begins, cuts, strict=True)]
        out[first : first + len(cuts)] = id_keys(ids)
        base += cuts[-1]
    return out


def merged(
    kept: LineIndex, added: LineIndex, keep: Mask | None = None, *, consume: bool = False
) -> tuple[LineIndex, Mask]:
    """Two sorted indexes as one (``added`` after equal fingerprints of ``kept``; of
    ``kept`` only the records of ``keep``, when given), and which of its records are
    ``added``'s. Made an array at a time, each a part at a time: no array of ``kept`` is
    copied whole; ``consume``: each array of ``kept`` is let go once merged (``kept`` is
    empty afterwards: arrays of their own are freed then)."""
    if keep is not None and bool(np.all(keep)):
        keep = None
    if len(added) == 0:
        out = kept if keep is None else kept.subset(keep)
        return out, np.zeros(len(out), np.bool_)
    if keep is not None and int(np.count_nonzero(keep)) * 2 < len(keep):
        few = kept.subset(keep)  # (a copy of the few kept: no array of the many gone)
        if consume:
            _let_go(kept)
        kept, keep = few, None
    gone = np.zeros(0, np.int64) if keep is None else np.flatnonzero(~keep)
    if len(kept) == len(gone):
        return added, np.ones(len(added), np.bool_)
    below = np.searchsorted(kept.keys, added.keys, side="right")  # kept records <= each
    slots = below - np.searchsorted(gone, below) + np.arange(len(added))
    is_added = np.zeros(len(kept) - len(gone) + len(added), np.bool_)
    is_added[slots] = True
    del below, slots
    plan = _plan(is_added, gone)
    out = LineIndex()  # the ids first: their merge's temporaries come before the rest
    out.id_lens = _merged_column(kept.id_lens, added.id_lens, is_added, keep, plan)
    out.id_blob = _merged_blob(kept, added, is_added, out.id_lens, keep, plan)
    if consume:
        _let_go(kept, ("id_blob", "id_lens"))
    for name in ("keys", "id_keys", "starts"):
        mine, theirs = getattr(kept, name), getattr(added, name)
        setattr(out, name, _merged_column(mine, theirs, is_added, keep, plan))
        del mine
        if consume:
            _let_go(kept, (name,))
    return out, is_added


def _let_go(index: LineIndex, names: Sequence[str] = _ARRAYS) -> None:
    """These arrays of ``index`` emptied (arrays of their own: a view would keep the old
    one)."""
    for name in names:
        setattr(index, name, getattr(index, name)[:0].copy())


_Part = tuple[int, int, int, int, int, int]  # merged from, to; added from, to; kept from, to


def _plan(is_added: Mask, gone: Ints) -> list[_Part]:
    """Per part of :data:`GATHER` merged records: where its records are, among the
    merged, ``added``'s and ``kept``'s (``gone``: the records of ``kept`` not kept, which
    its range of ``kept`` may hold)."""
    before_gone = gone - np.arange(len(gone))  # kept records before each one gone

    def kept_at(rank: int) -> int:  # where the kept record of this rank is in ``kept``
        return rank + int(np.searchsorted(before_gone, rank, side="right"))

    parts: list[_Part] = []
    added_at = own = 0  # added records, kept records before the part
    for first in range(0, len(is_added), GATHER):
        part = is_added[first : first + GATHER]
        count = int(np.count_nonzero(part))
        mine = len(part) - count
        begin = kept_at(own)  # (none of ``kept``: an empty range where the next one is)
        end = kept_at(own + mine - 1) + 1 if mine else begin
        parts.append((first, first + len(part), added_at, added_at + count, begin, end))
        added_at, own = added_at + count, own + mine
    return parts


def _merged_column(
    mine: npt.NDArray[Any],
    theirs: npt.NDArray[Any],
    is_added: Mask,
    keep: Mask | None,
    plan: list[_Part],
) -> npt.NDArray[Any]:
    """One array of :func:`merged`: ``theirs`` where ``is_added``, ``mine`` (of ``keep``)
    around, a part at a time."""
    both = np.empty(len(is_added), np.result_type(mine, theirs))
    for first, end, added_from, added_to, kept_from, kept_to in plan:
        part, slot = both[first:end], is_added[first:end]
        own = mine[kept_from:kept_to]
        part[slot] = theirs[added_from:added_to]
        part[~slot] = own if keep is None else own[keep[kept_from:kept_to]]
    return both


def _merged_blob(
    kept: LineIndex,
    added: LineIndex,
    is_added: Mask,
    lens: Lens,
    keep: Mask | None,
    plan: list[_Part],
) -> Bytes:
    """The ids' bytes of :func:`merged` (``lens`` the merged ids' lengths), a part at a
    time."""
    out = np.empty(int(lens.sum(dtype=np.int64)), np.uint8)
    at = added_at = kept_at = kept_done = 0  # bytes before the part: merged, added, kept

    def size(values: Lens, first: int, end: int) -> int:
        return int(values[first:end].sum(dtype=np.int64))

    for first, end, added_from, added_to, kept_from, kept_to in plan:
        kept_at += size(kept.id_lens, kept_done, kept_from)  # (records not kept between)
        mine = kept.id_blob[kept_at : kept_at + size(kept.id_lens, kept_from, kept_to)]
        kept_at, kept_done = kept_at + len(mine), kept_to
        if keep is not None:
            mine = mine[np.repeat(keep[kept_from:kept_to], kept.id_lens[kept_from:kept_to])]
        theirs = added.id_blob[added_at : added_at + size(added.id_lens, added_from, added_to)]
        added_at += len(theirs)
        part = out[at : at + size(lens, first, end)]
        at += len(part)
        slot = np.repeat(is_added[first:end], lens[first:end])
        part[slot] = theirs
        part[~slot] = mine
    return out
