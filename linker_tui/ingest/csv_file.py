"""The one way a CSV export file is read: Python's :mod:`csv` module (in C), a chunk of
records at a time, each record with the line it starts on.

:class:`CsvLines` holds a file's bytes and where each physical line starts (lines end
at ``\\n`` or ``\\r``, as the csv module counts them), with a 64-bit fingerprint of each
line's bytes, computed before anything is decoded. A reader that knows which lines it
read before (the sync) hands the csv module only the lines that changed
(:meth:`CsvLines.records` of a range); :func:`read_csv` reads them all.

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
import io
import re
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, compress, islice, repeat
from operator import lshift, or_

_CHUNK = 4_096  # records per chunk: small enough to stay in the CPU's cache
_BLOCK = 1 << 20  # bytes split into lines at a time (the lines are not kept)
_SURROGATE = re.compile("[\udc80-\udcff]")
_SENTINEL = "\0"  # after a range: NUL never reaches the csv module otherwise


def line_key(raw: bytes) -> int:
    """The 64-bit fingerprint of some bytes (CRC-32 and Adler-32)."""
    return zlib.crc32(raw) << 32 | zlib.adler32(raw)


def _keys(lines: list[bytes]) -> Iterator[int]:
    return map(or_, map(lshift, map(zlib.crc32, lines), repeat(32)), map(zlib.adler32, lines))


#: The fingerprints of a blank line (no record).
BLANK_KEYS = frozenset({line_key(b"\n"), line_key(b"\r"), line_key(b"\r\n")})


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
        if b"\r\n" in data:  # a quoted field's line breaks read as "\n" whatever the file's
            data = data.replace(b"\r\n", b"\n")
        self.data = data
        self.offsets = array("Q")  # where each line starts, and the end
        self.keys = array("Q")  # each line's fingerprint (with its line break)
        self.utf8 = True  # every range decoded so far was UTF-8 (else check: not_utf8)
        at = 0
        while at < len(data):
            end = data.find(b"\n", at + _BLOCK)
            end = len(data) if end < 0 else end + 1
            lines = data[at:end].splitlines(keepends=True)
            self.offsets.extend(accumulate(map(len, lines), initial=at))
            self.offsets.pop()  # the block's end: the next block's start
            self.keys.extend(_keys(lines))
            at = end
        self.offsets.append(len(data))

    @property
    def count(self) -> int:
        """The number of lines."""
        return len(self.keys)

    def key(self, first: int, end: int) -> int:
        """The fingerprint of lines ``first`` to ``end`` (a record over several lines)."""
        if end == first + 1:
            return self.keys[first]
        return line_key(self.data[self.offsets[first] : self.offsets[end]])

    def first_record(self) -> int:
        """The first line that is not blank (where the header is)."""
        first = 0
        while first < self.count and self.keys[first] in BLANK_KEYS:
            first += 1
        return first

    def records(self, first: int, end: int) -> Iterator[CsvChunk]:
        """The records that start on lines ``first`` to ``end`` (the last one may go on
        past ``end``: it is read to its end), a chunk at a time."""
        if end >= self.count:  # to the end of the file
            yield from _Records(io.StringIO(self._text(first, self.count), newline=""), first)
            return
        last_start = end  # records starting on a later line are left for the caller
        while True:
            stop = min(end, self.count)
            if stop == self.count:
                chunks = list(_Records(io.StringIO(self._text(first, stop), newline=""), first))
                yield from _before(chunks, last_start)
                return
            # A NUL line after the range: a record still open at its end (a quoted field
            # going on) swallows it, and is read again with more lines.
            text = self._text(first, stop) + _SENTINEL
            chunks = list(_Records(io.StringIO(text, newline=""), first))
            if chunks and chunks[-1].rows and chunks[-1].rows[-1] == [_SENTINEL]:
                last = chunks[-1]
                del last.lines[-1], last.rows[-1], last.ends[-1]
                yield from _before(chunks, last_start)
                return
            end = stop + max(64, stop - first)

    def _text(self, first: int, end: int) -> str:
        raw = self.data[self.offsets[first] : self.offsets[end]]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.utf8 = False
            return raw.decode("utf-8", "surrogateescape")


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
    """A CSV file: its header (the first record, names stripped) and its records."""

    columns: list[str]
    header_line: int
    chunks: Iterator[CsvChunk]
    lines: CsvLines
    data_start: int = 0  # the line after the header

    @property
    def utf8(self) -> bool:
        """Every byte read so far is UTF-8 (else check the values: :func:`not_utf8`)."""
        return self.lines.utf8


def read_header(lines: CsvLines) -> CsvFile:
    """The header of a file (its records not read: ``chunks`` is empty)."""
    first = lines.first_record()
    if first == lines.count:
        return CsvFile([], 1, iter(()), lines, first)
    chunk = next(lines.records(first, first + 1), None)
    if chunk is None:
        return CsvFile([], first + 1, iter(()), lines, lines.count)
    if not chunk.rows:  # the header itself could not be read
        return CsvFile([], chunk.unreadable[0][0], iter(()), lines, first + 1)
    header = [name.strip() for name in chunk.rows[0]]
    return CsvFile(header, chunk.lines[0], iter(()), lines, chunk.ends[0] - 1)


def read_csv(data: bytes) -> CsvFile:
    """Read a CSV file's bytes (see the module docstring); blank lines are skipped."""
    table = read_header(CsvLines(data))
    if table.columns:
        table.chunks = table.lines.records(table.data_start, table.lines.count)
    return table


class _Records:
    """The records of a text, a chunk at a time, with the line each starts on (the text
    starts after line ``offset``)."""

    def __init__(self, buffer: io.StringIO, offset: int) -> None:
        self.buffer = buffer
        self.reader = csv.reader(buffer)
        self.offset = offset  # lines before this reader's (a reader counts from 0)

    @property
    def line(self) -> int:
        """The lines read so far."""
        return self.offset + self.reader.line_num

    def __iter__(self) -> Iterator[CsvChunk]:
        """Read by the C reader a chunk at a time; the lines of a chunk follow from the
        line breaks inside its values. A chunk the csv module stops on, or whose lines do
        not add up, is read again record by record."""
        while True:
            at, before = self.buffer.tell(), self.line
            try:
                rows = list(islice(self.reader, _CHUNK))
            except csv.Error:
                rows = None
            lines = _starts(rows, before + 1) if rows is not None else None
            if lines is None or lines[-1] != self.line + 1:
                self.buffer.seek(at)
                self.reader, self.offset = csv.reader(self.buffer), before
                chunk = self._one_by_one(before + 1)
            else:
                chunk = CsvChunk(lines[:-1], rows or [], [], lines[1:])
            if [] in chunk.rows:  # blank lines
                keep = list(map(bool, chunk.rows))
                chunk.rows = list(compress(chunk.rows, keep))
                chunk.lines = list(compress(chunk.lines, keep))
                chunk.ends = list(compress(chunk.ends, keep))
            if chunk.rows or chunk.unreadable:
                yield chunk
            if self.line == before:
                return

    def _one_by_one(self, line: int) -> CsvChunk:
        """Up to a chunk of records, each with its line; what the csv module cannot read
        is reported and skipped."""
        chunk = CsvChunk()
        reader = self.reader
        while len(chunk.rows) < _CHUNK:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                chunk.unreadable.append((line, f"unreadable CSV: {exc}"))
                line = self.line + 1
                continue
            chunk.lines.append(line)
            chunk.rows.append(row)
            line = self.line + 1
            chunk.ends.append(line)
        return chunk


def _starts(rows: list[list[str]], first: int) -> list[int]:
    """The line each record starts on, and the line after the last one: a record spans
    one line and one more per line break inside its values."""
    out = list(range(first, first + len(rows) + 1))
    joined = "\n".join(map("\x1f".join, rows))
    if joined.count("\n") + joined.count("\r") == len(rows) - 1:  # no breaks inside
        return out
    line = first
    for index, row in enumerate(rows):
        out[index] = line
        text = "\x1f".join(row)
        line += 1 + text.count("\n") + text.count("\r")
    out[-1] = line
    return out


def not_utf8(values: Sequence[str]) -> bool:
    """Whether a record of a file that is not all UTF-8 holds one of its bad bytes."""
    return any(_SURROGATE.search(value) for value in values)
