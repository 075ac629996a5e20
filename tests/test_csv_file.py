"""The one CSV read path: the csv module's records, each with the line it starts on."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linker_tui.ingest import csv_file
from linker_tui.ingest.csv_file import CsvChunk, CsvFile, CsvLines, read_header


def _chunks(data: bytes) -> tuple[CsvFile, list[CsvChunk]]:
    """A file's header and its records as the sync reads them, every line."""
    table = read_header(CsvLines(data))
    if not table.columns:
        return table, []
    return table, list(table.lines.records(table.data_start, table.lines.count))


def _reference(text: str) -> tuple[list[tuple[int, list[str]]], list[int]]:
    """Record by record with ``line_num``: (line, values) of each record, lines refused."""
    text = text.removeprefix("\ufeff").replace("\0", "").replace("\r\n", "\n")
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []
    refused: list[int] = []
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return records, refused
        except csv.Error:
            refused.append(line)
        else:
            if row:
                records.append((line, row))
        line = reader.line_num + 1


def _read(data: bytes) -> tuple[list[tuple[int, list[str]]], list[int]]:
    table, chunks = _chunks(data)
    records: list[tuple[int, list[str]]] = []
    refused: list[int] = []
    if table.columns:
        records.append((table.header_line, list(table.columns)))
    for chunk in chunks:
        records.extend(zip(chunk.lines, chunk.rows, strict=True))
        refused.extend(line for line, _ in chunk.unreadable)
    return records, refused


_TEXT = st.text(alphabet='ab,"\n\r \0é', max_size=200)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_chunks_read_what_record_by_record_reading_reads(text: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_file, "_CHUNK", 3)
        patch.setattr(csv_file, "_LINES", 2)  # decoded two lines at a time
        records, refused = _read(text.encode())
    expected, expected_refused = _reference(text)
    if expected:
        line, header = expected[0]
        expected[0] = (line, [name.strip() for name in header])
    assert records == expected
    assert refused == expected_refused


def test_a_field_over_the_csv_limit_costs_its_record_only() -> None:
    data = b'h1,h2\na,b\nc,"' + b"x" * 200_000 + b'"\nd,e\n'
    records, refused = _read(data)
    assert records == [(1, ["h1", "h2"]), (2, ["a", "b"]), (4, ["d", "e"])]
    assert refused == [3]


def test_a_stray_quote_inside_a_field_is_a_character() -> None:
    records, _ = _read(b'id,reason\n1,Crown 6" bridge\n2,ok\n')
    assert records[1:] == [(2, ["1", 'Crown 6" bridge']), (3, ["2", "ok"])]


def test_records_keep_the_line_they_start_on() -> None:
    table, chunks = _chunks(b'h1,h2\na,"b\nc"\n\nd,e\r\n"f\r\ng",h\n')
    assert table.columns == ["h1", "h2"]
    assert [line for chunk in chunks for line in chunk.lines] == [2, 5, 6]
    assert [row for chunk in chunks for row in chunk.rows] == [
        ["a", "b\nc"],
        ["d", "e"],
        ["f\ng", "h"],
    ]
