"""The one way a CSV export file is read: Python's :mod:`csv` module (in C), a chunk of
records at a time, each record with the line it starts on.

:class:`CsvLines` holds a 64-bit fingerprint of each physical line of a file (lines end
at ``\\n`` or ``\\r``, as the csv module counts them; XXH3), computed before anything
is decoded, and where every :data:`_MARK`-th line starts (a range of lines is read from
the mark before it); and the bytes, or, for a file read a
block at a time (:meth:`CsvLines.of_file`, the sync), only its path: the lines are read
again when their records are, each checked against its fingerprint. A reader that knows
which lines it read before (the sync) hands the csv module only the lines that changed
(:meth:`CsvLines.records` of a range).

Text is decoded a range at a time (UTF-8, a BOM allowed); bytes that are not UTF-8 are
kept as lone surrogates (``surrogateescape``) so that the records around them are read,
and a record holding one is reported by the reader of its values (:func:`not_utf8`).
NUL characters are dropped (PostgreSQL refuses them in text), ``\\r\\n`` reads as
``\\n``. A stray ``"`` inside an unquoted field (``Crown 6" bridge``) is an ordinary
character to the csv module; a record the module cannot read (a field over its size
limit) is reported with its line, and the next records are read.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from pathlib import Path

import numpy as np
import numpy.typing as npt
import xxhash

_CHUNK = 4_096  # records per chunk: small enough to stay in the CPU's cache
_BLOCK = 1 << 20  # bytes split into lines at a time (the lines are not kept)
_LINES = 16_384  # lines decoded at a time
_NARROW = 1 << 32  # line starts below this are kept in 32 bits (4 bytes a line, not 8)
_MARK = 16  # where every 16th line starts is kept (a quarter of a byte a line, not 4)
_SURROGATE = re.compile("[\udc80-\udcff]")
_SENTINEL = "\0"  # after a range: NUL never reaches the csv module otherwise


_xxh3 = xxhash.xxh3_64_intdigest

#: Where lines start: 32-bit where they all are below :data:`_NARROW`, else 64-bit.
Starts = npt.NDArray[np.uint32] | npt.NDArray[np.int64]


def _narrowed(starts: npt.NDArray[np.int64]) -> Starts:
    """Line starts (ascending) in 32 bits when the last is below :data:`_NARROW` (a
    file's blocks of lines narrowed or not, joined: 64-bit if any block is)."""
    if not len(starts) or int(starts[-1]) < _NARROW:
        return starts.astype(np.uint32)
    return starts


def _marked(starts: npt.NDArray[np.int64], before: int) -> Starts:
    """Of the starts of a block of lines (the first is the file's line ``before``, from
    0), those of every :data:`_MARK`-th line of the file (:func:`_narrowed`)."""
    return _narrowed(np.ascontiguousarray(starts[(-before) % _MARK :: _MARK]))


def line_key(raw: bytes) -> int:
    """The 64-bit fingerprint of some bytes (XXH3)."""
    return _xxh3(raw)


#: The fingerprints of a blank line (no record).
BLANK_KEYS = frozenset({line_key(b"\n"), line_key(b"\r"), line_key(b"\r\n")})


class FileChanged(RuntimeError):
    """A file held as its lines' fingerprints (:meth:`CsvLines.of_file`) read again
    differently: it changed since it was first read."""


@dataclass
class CsvChunk:
    """Records of a file in file order: their values, the line each starts on and the
    line after its last one (``ends``); and ``unreadable``: ``(line, reason)`` of the
    records the csv module could not read."""

    lines: list[int] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)


class CsvLines:
    """A CSV file's bytes, split into physical lines; line ``i`` (from 0) is the file's
    line ``i + 1``."""

    def __init__(self, data: bytes) -> None:
        data = data.removeprefix(codecs.BOM_UTF8)
        if b"\0" in data:
            data = data.replace(b"\0", b"")
        only_lf = b"\r" not in data  # (a memchr: far quicker than looking for "\r\n")
        if not only_lf and b"\r\n" in data:  # a quoted field's line breaks read as "\n"
            data = data.replace(b"\r\n", b"\n")
        #: the bytes (None: read again from ``path`` a range at a time, see :meth:`of_file`)
        self.data: bytes | None = data
        self.path: Path | None = None
        self._skip = 0  # bytes of the file before its first line (a BOM)
        self.utf8 = True  # every range decoded so far was UTF-8 (else check: not_utf8)
        marks: list[Starts] = []
        keys: list[npt.NDArray[np.uint64]] = []
        whole = np.frombuffer(data, np.uint8)
        at = count = 0
        while at < len(data):
            end = data.find(b"\n", at + _BLOCK)
            end = len(data) if end < 0 else end + 1
            lines = data[at:end].splitlines(keepends=True)
            if only_lf:  # each line starts after a "\n"
                starts = np.concatenate(([at], np.flatnonzero(whole[at : end - 1] == 10) + at + 1))
            else:
                sizes = np.fromiter(map(len, lines), np.int64, len(lines))
                starts = np.cumsum(sizes) - sizes + at
            marks.append(_marked(starts, count))
            keys.append(np.fromiter(map(_xxh3, lines), np.uint64, len(lines)))
            at, count = end, count + len(lines)
        self._ends(marks, keys, len(data))

    def _ends(self, marks: list[Starts], keys: list[npt.NDArray[np.uint64]], size: int) -> None:
        #: where lines 0, 16, 32... start (every :data:`_MARK`-th; 32-bit below 4 GiB)
        self.marks: Starts = np.concatenate(marks) if marks else np.zeros(0, np.uint32)  # type: ignore[assignment]
        #: the bytes of the lines (after a BOM)
        self.size = size
        #: each line's fingerprint (with its line break)
        self.keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)

    @classmethod
    def of_file(cls, path: Path) -> tuple[CsvLines, int]:
        """A file's lines read a block at a time, and the hash of its bytes (XXH3, as
        :func:`line_key` of the whole file). The bytes are not kept: a range of lines is
        read again from the file when its records are read, each line checked against its
        fingerprint (:class:`FileChanged` if it changed meanwhile). A file with NUL bytes
        or a ``\\r`` is held whole (its bytes are rewritten before they are split)."""
        digest = xxhash.xxh3_64()
        marks: list[Starts] = []
        keys: list[npt.NDArray[np.uint64]] = []
        count = 0  # lines so far
        with path.open("rb") as handle:
            pending = handle.read(_BLOCK)
            digest.update(pending)
            skip = len(codecs.BOM_UTF8) if pending.startswith(codecs.BOM_UTF8) else 0
            pending, at = pending[skip:], 0  # ``at``: where ``pending`` starts (after skip)
            while pending:
                if b"\0" in pending or b"\r" in pending:
                    handle.seek(0)
                    data = handle.read()
                    return cls(data), xxhash.xxh3_64_intdigest(data)
                more = handle.read(_BLOCK)
                digest.update(more)
                cut = pending.rfind(b"\n") + 1 if more else len(pending)
                if cut:
                    part = np.frombuffer(pending, np.uint8, cut)
                    starts = np.concatenate(([at], np.flatnonzero(part[: cut - 1] == 10) + at + 1))
                    marks.append(_marked(starts, count))
                    count += len(starts)
                    lines = pending[:cut].splitlines(keepends=True)
                    keys.append(np.fromiter(map(_xxh3, lines), np.uint64, len(lines)))
                    at += cut
                pending = pending[cut:] + more
        out = cls(b"")
        out.data, out.path, out._skip = None, path, skip
        out._ends(marks, keys, at)
        return out, digest.intdigest()

    @property
    def count(self) -> int:
        """The number of lines."""
        return len(self.keys)

    def key(self, first: int, end: int) -> int:
        """The fingerprint of lines ``first`` to ``end`` (a record over several lines)."""
        if end == first + 1:
            return int(self.keys[first])
        return line_key(self._raw(first, end)[0])

    def first_record(self) -> int:
        """The first line that is not blank (where the header is)."""
        first = 0
        while first < self.count and int(self.keys[first]) in BLANK_KEYS:
            first += 1
        return first

    def records(self, first: int, end: int) -> Iterator[CsvChunk]:
        """The records that start on lines ``first`` to ``end`` (the last one may go on
        past ``end``: it is read to its end), a chunk at a time."""
        if end >= self.count:  # to the end of the file
            yield from _records(self._decoded(first, self.count), first)
            return
        last_start = end  # records starting on a later line are left for the caller
        while True:
            stop = min(end, self.count)
            if stop == self.count:
                chunks = list(_records(self._decoded(first, stop), first))
                yield from _before(chunks, last_start)
                return
            # A NUL line after the range: a record still open at its end (a quoted field
            # going on) swallows it, and is read again with more lines.
            chunks = list(_records(chain(self._decoded(first, stop), [_SENTINEL]), first))
            if chunks and chunks[-1].rows and chunks[-1].rows[-1] == [_SENTINEL]:
                last = chunks[-1]
                del last.lines[-1], last.rows[-1], last.ends[-1]
                yield from _before(chunks, last_start)
                return
            end = stop + max(64, stop - first)

    def _decoded(self, first: int, end: int) -> Iterator[str]:
        """Lines ``first`` to ``end`` as text, a block of lines decoded at a time (never
        the whole file at once)."""
        for at in range(first, end, _LINES):
            raw, lines = self._raw(at, min(end, at + _LINES))
            errors = "strict"
            if not raw.isascii():
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    self.utf8, errors = False, "surrogateescape"
            yield from map(bytes.decode, lines, repeat("utf-8"), repeat(errors))

    def _raw(self, first: int, end: int) -> tuple[bytes, list[bytes]]:
        """Lines ``first`` to ``end``: their bytes, and each line's (from the marks around
        them; read again from the file if it is not held: each line checked against its
        fingerprint)."""
        if first >= end:
            return b"", []
        mark, after = first // _MARK, -(-end // _MARK)
        start = int(self.marks[mark])
        stop = int(self.marks[after]) if after < len(self.marks) else self.size
        wanted = slice(first - mark * _MARK, end - mark * _MARK)
        if self.data is not None:
            lines = self.data[start:stop].splitlines(keepends=True)[wanted]
            return b"".join(lines), lines
        assert self.path is not None
        with self.path.open("rb") as handle:
            handle.seek(self._skip + start)
            raw = handle.read(stop - start)
        every = raw.splitlines(keepends=True)
        lines = every[wanted]
        keys = np.fromiter(map(_xxh3, lines), np.uint64, len(lines))
        read_whole = len(raw) == stop - start and len(every) == min(after * _MARK, self.count) - (
            mark * _MARK
        )
        if not read_whole or not np.array_equal(keys, self.keys[first:end]):
            raise FileChanged(f"{self.path.name} changed while it was read; read next time")
        return (raw if len(lines) == len(every) else b"".join(lines)), lines


def _before(chunks: list[CsvChunk], end: int) -> Iterator[CsvChunk]:
    """The records (and unreadable ones) of ``chunks`` starting before line ``end``
    (from 0)."""
    for chunk in chunks:
        if chunk.lines and chunk.lines[-1] > end:
            keep = [line <= end for line in chunk.lines]
            chunk.lines = list(compress(chunk.lines, keep))
            chunk.rows = list(compress(chunk.rows, keep))
            chunk.ends = list(compress(chunk.ends, keep))
        chunk.unreadable = [item for item in chunk.unreadable if item[0] <= end]
        if chunk.rows or chunk.unreadable:
            yield chunk


@dataclass
class CsvFile:
    """A CSV file's header (the first record, names stripped) and its lines; its records
    are read from ``data_start`` on (:meth:`CsvLines.records`)."""

    columns: list[str]
    header_line: int
    lines: CsvLines
    data_start: int = 0  # the line after the header

    @property
    def utf8(self) -> bool:
        """Every byte read so far is UTF-8 (else check the values: :func:`not_utf8`)."""
        return self.lines.utf8


def read_header(lines: CsvLines) -> CsvFile:
    """The header of a file (its records not read)."""
    first = lines.first_record()
    if first == lines.count:
        return CsvFile([], 1, lines, first)
    chunk = next(lines.records(first, first + 1), None)
    if chunk is None:
        return CsvFile([], first + 1, lines, lines.count)
    if not chunk.rows:  # the header itself could not be read
        return CsvFile([], chunk.unreadable[0][0], lines, first + 1)
    header = [name.strip() for name in chunk.rows[0]]
    return CsvFile(header, chunk.lines[0], lines, chunk.ends[0] - 1)


def _records(lines: Iterator[str], offset: int) -> Iterator[CsvChunk]:
    """The records the csv module reads from these lines (the file's from line
    ``offset`` on), a chunk at a time, each with the line it starts on and the line after
    it; a record the module cannot read is reported with its line, and the next ones are
    read."""
    reader = csv.reader(lines)
    chunk = CsvChunk()
    line = offset + 1  # where the next record starts
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            chunk.unreadable.append((line, f"unreadable CSV: {exc}"))
            line = offset + reader.line_num + 1
            continue
        after = offset + reader.line_num + 1
        if row:  # else a blank line
            chunk.lines.append(line)
            chunk.rows.append(row)
            chunk.ends.append(after)
            if len(chunk.rows) == _CHUNK:
                yield chunk
                chunk = CsvChunk()
        line = after
    if chunk.rows or chunk.unreadable:
        yield chunk


def not_utf8(values: Sequence[str]) -> bool:
    """Whether a record of a file that is not all UTF-8 holds one of its bad bytes."""
    return any(_SURROGATE.search(value) for value in values)
