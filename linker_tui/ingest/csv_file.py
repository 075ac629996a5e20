"""The one way a CSV export file is read: Python's :mod:`csv` module (in C), a chunk of
records at a time, each record with the line it starts on.

The whole file is decoded once (UTF-8, a BOM allowed); bytes that are not UTF-8 are
kept as lone surrogates (``surrogateescape``) so that the records around them are read,
and a record holding one is reported by the reader of its values
(:func:`not_utf8`). NUL characters are dropped (PostgreSQL refuses them in text). A
stray ``"`` inside an unquoted field (``Crown 6" bridge``) is an ordinary character to
the csv module; a record the module cannot read (a field over its size limit) is
reported with its line, and the next records are read.
"""

from __future__ import annotations

import csv
import io
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, islice, repeat
from operator import lshift, or_

_BOM = "\ufeff"
_CHUNK = 4_096  # records per chunk: small enough to stay in the CPU's cache
_SURROGATE = re.compile("[\udc80-\udcff]")
_SEPARATOR = "\x1f"  # joins a record's values for its fingerprint


@dataclass
class CsvChunk:
    """Records of a file in file order: their values and the line each starts on; and
    ``unreadable``: ``(line, reason)`` of the records the csv module could not read."""

    lines: list[int] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class CsvFile:
    """A CSV file: its header (the first record, names stripped) and its records."""

    columns: list[str]
    header_line: int
    chunks: Iterator[CsvChunk]
    utf8: bool  # every byte of the file is UTF-8 (else check the values: not_utf8)


def read_csv(data: bytes) -> CsvFile:
    """Read a CSV file's bytes (see the module docstring); blank lines are skipped."""
    try:
        text, utf8 = data.decode("utf-8"), True
    except UnicodeDecodeError:
        text, utf8 = data.decode("utf-8", "surrogateescape"), False
    text = text.removeprefix(_BOM)
    if "\0" in text:
        text = text.replace("\0", "")
    if "\r\n" in text:  # a quoted field's line breaks read as "\n" whatever the file's
        text = text.replace("\r\n", "\n")
    chunks = _Records(io.StringIO(text, newline="")).chunks()
    header: list[str] = []
    header_line = 1
    for chunk in chunks:
        if chunk.rows:
            header = [name.strip() for name in chunk.rows[0]]
            header_line = chunk.lines[0]
            rest = CsvChunk(chunk.lines[1:], chunk.rows[1:], chunk.unreadable)
            return CsvFile(header, header_line, _chain(rest, chunks), utf8)
        if chunk.unreadable:  # the header itself could not be read
            return CsvFile([], chunk.unreadable[0][0], iter(()), utf8)
    return CsvFile(header, header_line, iter(()), utf8)


def _chain(first: CsvChunk, rest: Iterator[CsvChunk]) -> Iterator[CsvChunk]:
    yield first
    yield from rest


class _Records:
    """The records of a text, a chunk at a time, with the line each starts on."""

    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer
        self.reader = csv.reader(buffer)
        self.offset = 0  # lines read by earlier readers (a reader counts from 0)

    @property
    def line(self) -> int:
        """The lines read so far."""
        return self.offset + self.reader.line_num

    def chunks(self) -> Iterator[CsvChunk]:
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
                chunk = CsvChunk(lines[:-1], rows or [])
            if [] in chunk.rows:  # blank lines
                keep = list(map(bool, chunk.rows))
                chunk.rows = list(compress(chunk.rows, keep))
                chunk.lines = list(compress(chunk.lines, keep))
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
        return chunk


def _starts(rows: list[list[str]], first: int) -> list[int]:
    """The line each record starts on, and the line after the last one: a record spans
    one line and one more per line break inside its values."""
    out = list(range(first, first + len(rows) + 1))
    joined = "\n".join(map(_SEPARATOR.join, rows))
    if joined.count("\n") + joined.count("\r") == len(rows) - 1:  # no breaks inside
        return out
    line = first
    for index, row in enumerate(rows):
        out[index] = line
        text = _SEPARATOR.join(row)
        line += 1 + text.count("\n") + text.count("\r")
    out[-1] = line
    return out


def not_utf8(values: Sequence[str]) -> bool:
    """Whether a record of a file that is not all UTF-8 holds one of its bad bytes."""
    return any(_SURROGATE.search(value) for value in values)


def record_keys(rows: Sequence[Sequence[str]], salt: bytes) -> list[int]:
    """A 64-bit fingerprint per record (CRC-32 and Adler-32 of salt + its values).

    ``salt`` holds everything that changes how a record is read (the header, the
    settings), so a changed setting makes every record look new.
    """
    crc, adler = zlib.crc32(salt), zlib.adler32(salt)
    raws = list(
        map(
            str.encode,
            map(_SEPARATOR.join, rows),
            repeat("utf-8"),
            repeat("surrogateescape"),
        )
    )
    return list(
        map(
            or_,
            map(lshift, map(zlib.crc32, raws, repeat(crc)), repeat(32)),
            map(zlib.adler32, raws, repeat(adler)),
        )
    )
