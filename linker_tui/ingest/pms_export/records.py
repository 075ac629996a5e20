"""Whether a file's header and records can be read at all (before they are decoded):
a column named twice or missing, a record of the wrong width or not UTF-8."""

from __future__ import annotations

from collections.abc import Sequence

from linker_tui.ingest.csv_file import not_utf8
from linker_tui.ingest.pms_export.format import REQUIRED_COLUMNS


def missing_columns(file: str, columns: Sequence[str]) -> list[str]:
    """Required columns the header lacks."""
    return [c for c in REQUIRED_COLUMNS[file] if c not in columns]


def header_problem(file: str, columns: Sequence[str]) -> str:
    """Why a file with this header cannot be read ("" if it can): a column named twice,
    or a required one missing."""
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    if twice:
        return f"the header names column(s) twice: {', '.join(twice)}"
    missing = missing_columns(file, columns) if file in REQUIRED_COLUMNS else []
    return f"missing column(s): {', '.join(missing)}" if missing else ""


def record_problem(values: Sequence[str], width: int, utf8: bool) -> str:
    """Why a record cannot be read ("" if it can): not ``width`` values (the header's),
    or (``utf8`` false: the file is not all UTF-8) a byte that is not UTF-8."""
    if len(values) != width:
        return f"{len(values)} values where the header has {width} columns"
    if not utf8 and not_utf8(values):
        return "not UTF-8 text"
    return ""
