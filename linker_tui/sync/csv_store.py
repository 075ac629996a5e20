"""How the index of a CSV file (:class:`linker_tui.sync.csv_index.LineIndex`) is kept in
the ``sync_state`` table between runs: a **base**, the whole index, written now and
then, and a **delta**, what changed since the base (the base's records gone, the
records added). A run that changed a few records of a million writes a few records'
worth, not the whole index; once the delta holds more than an eighth of the base (and
over 10,000 records), or the file's salt changed, the base is written again and the
delta emptied. Both are written in the run's one transaction; a delta names the base it
goes with (a generation number: the hash of the base's records): a delta of another
base, or anything unreadable, gives an empty index (every record is read again, nothing
is lost).
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xxhash

from linker_tui.sync.csv_index import Entries, FileDiff, LineIndex, Mask, merged
from linker_tui.sync.state import Cut, MadePiece, StateValue, cut_bytes, cut_value, value_parts

DELTA = "#delta"  # state name suffix: the delta of the file's index
_MAGIC = b"LTX6"  # sorted, XXH3, 16-bit id lengths (LTX5: 8-bit; LTX4: file order, CRC)
# magic, generation, records, id bytes, complete, salt; 48 bytes: the arrays after it are
# aligned (NumPy reads unaligned arrays several times slower)
_HEAD = struct.Struct("<4sQQQB16s3x")
_DELTA_MAGIC = b"LTD1"
_DELTA_HEAD = struct.Struct("<4sQQB3x")  # magic, base generation, base records gone, complete
_REWRITE_OVER = 10_000  # records in a delta (and more than 1/8 of the base): new base
_DTYPES = ("<u8", "<u8", "<i8", "<u2", "|u1")  # fingerprints, id hashes, starts, id lengths, ids
_CONVERTED = 1 << 17  # values converted at a time as an index is written (1 MiB)


def pack_index(index: LineIndex, *, base: bool = False) -> bytes:
    """An index packed (little-endian) for the ``sync_state`` table; a ``base`` is
    numbered by the hash of its records (the generation its delta names)."""
    return b"".join(value_parts(index_pieces(index, base=base)))


class _Converted:
    """An array as another type (32-bit starts stored in 64 bits), made a part at a time
    as it is written (:class:`linker_tui.sync.state.MadePiece`)."""

    def __init__(self, values: npt.NDArray[Any], dtype: str) -> None:
        self.values, self.dtype = values, np.dtype(dtype)
        self.nbytes = len(values) * self.dtype.itemsize

    def parts(self) -> Iterator[memoryview]:
        for first in range(0, len(self.values), _CONVERTED):
            yield self.values[first : first + _CONVERTED].astype(self.dtype).data.cast("B")


def index_pieces(index: LineIndex, *, base: bool = False) -> list[memoryview | MadePiece]:
    """:func:`pack_index` as its pieces, one after another: the head, then the arrays
    as they are (no copy of them: the state is written a piece at a time; an array of
    another type is converted a part at a time as it is written)."""
    parts: list[memoryview | MadePiece] = [
        np.ascontiguousarray(part).data.cast("B")
        if part.dtype == np.dtype(dtype)
        else _Converted(part, dtype)
        for part, dtype in zip(
            (index.keys, index.id_keys, index.starts, index.id_lens, index.id_blob),
            _DTYPES,
            strict=True,
        )
    ]
    generation = 0
    if base:
        digest = xxhash.xxh3_64()
        for part in value_parts(parts):
            digest.update(part)
        generation = digest.intdigest() | 1
    count, blob = len(index.keys), len(index.id_blob)
    head = _HEAD.pack(_MAGIC, generation, count, blob, int(index.complete), index.salt)
    return [memoryview(head), *parts]


def unpack_index(data: bytes) -> tuple[LineIndex, int] | None:
    """An index from :func:`pack_index` and its generation (its arrays are views of
    ``data``: read only); None if it cannot be read (an older scheme too)."""
    _, *parts = cut_bytes(memoryview(data), _CUT)
    head = _head(memoryview(data))
    return None if head is None else _unpacked(head, parts)


_Head = tuple[bytes, int, int, int, int, bytes]  # magic, generation, records, id bytes, ...


def _head(data: memoryview) -> _Head | None:
    """The head of a packed index (None: not one of this scheme)."""
    if len(data) < _HEAD.size:
        return None
    head: _Head = _HEAD.unpack_from(data)
    return head if head[0] == _MAGIC else None


def _sizes(head: _Head) -> list[int]:
    """The bytes of a packed index's arrays, then the rest (its ids' bytes)."""
    count = head[2]
    return [8 * count, 8 * count, 8 * count, 2 * count, -1]


def _arrays(head: memoryview) -> list[int]:
    """:func:`_sizes` as the head of a packed index says (none: not one)."""
    found = _head(head)
    return [] if found is None else _sizes(found)


_CUT: Cut = (_HEAD.size, _arrays)  # a packed index: its head, then its arrays


def _unpacked(head: _Head, parts: list[memoryview]) -> tuple[LineIndex, int] | None:
    """An index from its head and its arrays' bytes (:func:`_sizes`; arrays of their
    own parts: each freed once let go)."""
    _magic, generation, _count, blob, complete, salt = head
    if [len(part) for part in parts] != [*_sizes(head)[:-1], blob]:
        return None

    def take(part: memoryview, dtype: str) -> Any:
        values = np.frombuffer(part, dtype)
        if not values.flags.aligned:
            values = values.copy()
        return values.astype(dtype[1:], copy=False)  # native byte order: no copy here

    keys, id_keys, starts, id_lens, id_blob = (
        take(part, dtype) for part, dtype in zip(parts, _DTYPES, strict=True)
    )
    if int(id_lens.sum(dtype=np.int64)) != blob:
        return None
    return LineIndex(keys, id_keys, starts, id_lens, id_blob, salt, bool(complete)), generation


@dataclass
class StoredIndex:
    """A file's index as stored: the whole of it (``index``, the base with its delta),
    the base's size, salt and generation, and (with a delta) which records are the
    delta's (``from_delta``) and which of the base's are kept (``kept``)."""

    index: LineIndex
    base_size: int = 0
    base_salt: bytes = b""
    generation: int = 0
    from_delta: Mask | None = None
    kept: Mask | None = None


def _nothing() -> StoredIndex:
    return StoredIndex(LineIndex())


def load_index(state: Mapping[str, bytes], name: str) -> StoredIndex:
    """The stored index of the file ``name`` (empty: none, or unreadable). A base with a
    delta is merged an array at a time, each array of the base let go once merged (read
    into arrays of their own: the base is not held whole beside the merged index)."""
    first, *parts = cut_value(state, name, _CUT)
    head = _head(first)
    found = None if head is None else _unpacked(head, parts)
    del parts  # (the arrays alone hold their buffers now: each is freed once merged)
    if found is None:
        return _nothing()
    base, generation = found
    stored = StoredIndex(base, len(base), base.salt, generation)
    delta = state.get(name + DELTA, b"")
    if not delta:
        return stored
    if len(delta) < _DELTA_HEAD.size:
        return _nothing()
    magic, of, gone, complete = _DELTA_HEAD.unpack_from(delta)
    end = _DELTA_HEAD.size + 8 * gone
    added = unpack_index(delta[end:]) if len(delta) >= end else None
    if magic != _DELTA_MAGIC or of != generation or added is None:
        return _nothing()
    removed = np.frombuffer(delta, "<i8", gone, _DELTA_HEAD.size).astype(np.int64)
    if gone and (removed.min() < 0 or removed.max() >= len(base)):
        return _nothing()
    keep = np.ones(len(base), np.bool_)
    keep[removed] = False
    stored.index, stored.from_delta = merged(base, added[0], keep, consume=True)
    stored.kept = keep
    stored.index.salt, stored.index.complete = base.salt, bool(complete)
    return stored


def store_index(
    name: str, stored: StoredIndex, diff: FileDiff, refused: Collection[int]
) -> tuple[dict[str, StateValue], int]:
    """The state rows of the file's next index (its delta, or a new base and an empty
    delta) and the number of its records imported. Once per ``diff``: a new base lets
    go of ``diff.new`` (a million records' arrays) before it is packed."""
    used = diff.used
    if stored.from_delta is None or stored.kept is None:  # the index is its base
        removed, from_delta = ~used, np.zeros(len(used), np.bool_)
    else:  # the base's records still in the file: those of the index not the delta's
        removed = np.ones(stored.base_size, np.bool_)
        removed[stored.kept] = ~used[~stored.from_delta]  # (merged in the base's order)
        from_delta = used & stored.from_delta
    gone = np.flatnonzero(removed)
    del removed
    change = len(gone) + int(np.count_nonzero(from_delta)) + len(diff.new.keys)
    big = change > max(_REWRITE_OVER, stored.base_size // 8)
    if big or stored.base_size == 0 or diff.salt != stored.base_salt:
        index = diff.index(refused, last=True)  # (no delta built; the old index let go)
        diff.new = Entries(np.zeros(0, np.uint64))  # the records read, let go before packing
        return {name: index_pieces(index, base=True), name + DELTA: b""}, index.imported
    added = diff.index(refused, keep=from_delta)
    head = _DELTA_HEAD.pack(_DELTA_MAGIC, stored.generation, len(gone), int(diff.complete))
    gone_bytes = gone.astype("<i8").data.cast("B")
    return {name + DELTA: [memoryview(head), gone_bytes, *index_pieces(added)]}, diff.imported()
