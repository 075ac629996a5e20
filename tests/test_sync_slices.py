"""The sliced C-speed passes over an export give exactly what one pass would."""

from __future__ import annotations

import random

import pytest

from linker_tui import pms_export
from linker_tui.pms_export import record_keys, split_records


@pytest.mark.parametrize("seed", range(20))
def test_sliced_split_equals_one_split(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    pieces = [
        rng.choice([b"a", b"bc", b'"q"', b"\r\n", b"\n", b",", b"\xc3\xa9"]) for _ in range(400)
    ]
    data = b"id,name\n" + b"".join(pieces)
    whole = split_records(data)
    monkeypatch.setattr(pms_export, "_SLICE_BYTES", rng.randint(1, 16))
    monkeypatch.setattr(pms_export, "_SLICE_RECORDS", rng.randint(1, 7))
    sliced = split_records(data)
    assert (sliced.header, sliced.records, sliced.start_lines) == (
        whole.header,
        whole.records,
        whole.start_lines,
    )
    assert record_keys(sliced.records, b"s") == record_keys(whole.records, b"s")
    assert b"\r" not in b"".join(sliced.records).replace(b"\r\n", b"")
