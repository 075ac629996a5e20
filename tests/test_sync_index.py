"""The CSV file index kept between runs: a base and a delta (what changed since the
base), and what a run does when they do not go together."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from linker_tui.ingest import csv_file
from linker_tui.sync import csv_index, csv_match, csv_store, seen_ids
from linker_tui.sync.csv_index import (
    Entries,
    FileDiff,
    LineIndex,
    id_key,
    id_keys,
    merged,
)
from linker_tui.sync.csv_match import match_lines
from linker_tui.sync.csv_store import DELTA, load_index, pack_index, unpack_index
from linker_tui.sync.seen_ids import GoneIds, KnownIds, SeenIds, short_keys
from tests.sync_support import (
    ExportData,
    appointments_by_pms_id,
    make_sync,
    many_appointments,
)

APPOINTMENTS = "appointments.csv"


def _state(engine: Engine) -> dict[str, bytes]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, data FROM sync_state")).all()
    return {name: bytes(data) for name, data in rows}


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The records the csv module reads (a count per run, appended as they are read)."""
    counts = [0]
    real = csv_file.CsvLines.records

    def records(self: csv_file.CsvLines, first: int, end: int) -> Iterator[csv_file.CsvChunk]:
        for chunk in real(self, first, end):
            counts[-1] += len(chunk.rows)
            yield chunk

    monkeypatch.setattr(csv_file.CsvLines, "records", records)
    return counts


def _rewrite(folder: Path, data: ExportData, age: float) -> None:
    data.write(folder, age=age)
    old = (folder / APPOINTMENTS).stat().st_mtime
    os.utime(folder / APPOINTMENTS, (old, old))


def test_a_small_change_writes_a_delta_and_a_big_one_a_new_base(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_store, "_REWRITE_OVER", 6)
    data = many_appointments(60, 10)
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().inserted == 71
    first = _state(engine)
    assert first[APPOINTMENTS + DELTA] == b""  # a first import: a base
    data.appointments[5][6] = "Changed once"
    random.Random(1).shuffle(data.appointments)
    _rewrite(folder, data, 50)
    assert sync.run().updated == 1
    second = _state(engine)
    assert second[APPOINTMENTS] == first[APPOINTMENTS]  # the base stays
    assert second[APPOINTMENTS + DELTA] != b""  # one record gone, one added
    for row in data.appointments[:20]:
        row[6] = "Changed again"
    _rewrite(folder, data, 40)
    assert sync.run().updated == 20
    third = _state(engine)
    assert third[APPOINTMENTS] != first[APPOINTMENTS]  # over 6 records and 1/8: a new base
    assert third[APPOINTMENTS + DELTA] == b""
    stored = load_index(third, APPOINTMENTS)
    assert stored.index.imported == 60 and stored.from_delta is None and stored.kept is None
    reasons = {pms_id: a.reason for pms_id, a in appointments_by_pms_id(engine).items()}
    assert reasons == {row[0]: row[6] for row in data.appointments}


def test_a_delta_of_another_base_reads_every_record_again(
    engine: Engine, tmp_path: Path, parsed: list[int]
) -> None:
    data = many_appointments(30, 10)
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    sync.run()
    data.appointments[3][6] = "Changed"
    _rewrite(folder, data, 50)
    parsed.append(0)
    assert sync.run().updated == 1 and parsed[-1] == 2  # the header and the changed line
    with engine.begin() as conn:  # the delta now names another base
        delta = bytearray(_state(engine)[APPOINTMENTS + DELTA])
        delta[4] ^= 0xFF
        conn.execute(
            sa.text("UPDATE sync_state SET data = :d WHERE name = :n"),
            {"d": bytes(delta), "n": APPOINTMENTS + DELTA},
        )
    data.appointments[4][6] = "Changed too"
    _rewrite(folder, data, 40)
    parsed.append(0)
    summary = sync.run()
    assert summary.ok and (summary.updated, summary.cancelled, summary.problems) == (1, 0, 0)
    assert parsed[-1] == 31  # the header and every record: nothing is taken as unchanged
    found = appointments_by_pms_id(engine)
    assert (found["A3"].reason, found["A4"].reason) == ("Changed", "Changed too")
    assert _state(engine)[APPOINTMENTS + DELTA] == b""  # read whole: a new base


def test_an_index_packs_and_merges_as_it_was() -> None:
    rng = np.random.default_rng(5)
    keys = np.sort(rng.integers(1, 2**63, 50, dtype=np.uint64))
    ids = [f"A{i}".encode() for i in range(50)]
    lens = np.array([len(i) for i in ids], np.uint16)
    blob = np.frombuffer(b"".join(ids), np.uint8)
    index = LineIndex(keys, keys + np.uint64(1), np.arange(50), lens, blob, b"s" * 16, True)
    found = unpack_index(pack_index(index, base=True))
    assert found is not None
    back = found[0]
    assert back.ids(range(50)) == ids and bool(np.all(back.keys == keys)) and back.complete
    assert unpack_index(pack_index(index)[:-1]) is None  # cut short: not read
    odd, even = index.subset(np.arange(50) % 2 == 1), index.subset(np.arange(50) % 2 == 0)
    both, from_even = merged(odd, even)
    assert both.ids(range(50)) == ids and list(from_even) == [i % 2 == 0 for i in range(50)]
    keep = rng.random(50) < 0.6  # the records of ``odd`` kept, without a copy of it first
    for kept in (keep[1::2], np.ones(25, np.bool_), np.zeros(25, np.bool_)):
        some, from_some = merged(odd, even, kept)
        whole, from_whole = merged(odd.subset(kept), even)
        assert some.ids(range(len(some))) == whole.ids(range(len(whole)))
        for name in ("keys", "id_keys", "starts", "id_lens", "id_blob"):
            assert np.array_equal(getattr(some, name), getattr(whole, name)), name
        assert np.array_equal(from_some, from_whole)
    copy = odd.subset(np.ones(25, np.bool_))
    consumed, _ = merged(copy, even, keep[1::2], consume=True)  # each array let go once merged
    assert consumed.ids(range(len(consumed))) == merged(odd, even, keep[1::2])[0].ids(
        range(len(consumed))
    )
    assert len(copy) == 0 and len(copy.id_blob) == 0 and len(copy.starts) == 0
    alone, none_added = merged(odd, even.subset(np.zeros(25, np.bool_)), keep[1::2])
    assert alone.ids(range(len(alone))) == odd.subset(keep[1::2]).ids(range(len(alone)))
    assert len(none_added) == len(alone) and not none_added.any()


def _index_of(records: list[tuple[int, bytes]]) -> LineIndex:
    """An index of (fingerprint, id) records, sorted by fingerprint (stable)."""
    records = sorted(records, key=lambda record: record[0])
    keys = np.array([key for key, _ in records], np.uint64)
    lens = np.array([len(pms_id) for _, pms_id in records], np.uint16)
    blob = np.frombuffer(b"".join(pms_id for _, pms_id in records), np.uint8)
    starts = np.array([key * 60 for key, _ in records], np.int64)
    return LineIndex(keys, id_keys([pms_id for _, pms_id in records]), starts, lens, blob)


_RECORDS = st.lists(st.tuples(st.integers(1, 12), st.binary(min_size=0, max_size=5)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    kept=_RECORDS,
    added=_RECORDS,
    keep_bits=st.lists(st.booleans(), min_size=30, max_size=30),
    part=st.sampled_from([1, 2, 3, 7, 1 << 16]),
)
def test_merged_is_the_kept_records_and_the_added_ones_in_order(
    kept: list[tuple[int, bytes]],
    added: list[tuple[int, bytes]],
    keep_bits: list[bool],
    part: int,
) -> None:
    """A part at a time (``GATHER`` records), with records not kept anywhere among them,
    :func:`merged` gives what sorting them together gives (kept ones first among equal
    fingerprints), and lets the kept arrays go when asked to."""
    old, new = _index_of(kept), _index_of(added)
    keep = np.array(keep_bits[: len(old)], np.bool_)
    expected = sorted(
        [
            (int(k), 0, i, b)
            for i, (k, b) in enumerate(zip(old.keys, old.ids(range(len(old))), strict=True))
            if keep[i]
        ]
        + [
            (int(k), 1, i, b)
            for i, (k, b) in enumerate(zip(new.keys, new.ids(range(len(new))), strict=True))
        ]
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_index, "GATHER", part)
        out, from_added = merged(old, new, keep, consume=True)
        backwards = out.ids(reversed(range(len(out))))  # (where each id is: a part at a time)
    assert out.keys.tolist() == [key for key, *_ in expected]
    assert out.ids(range(len(out))) == [pms_id for *_, pms_id in expected] == backwards[::-1]
    assert out.id_keys.tolist() == id_keys(out.ids(range(len(out)))).tolist()
    assert out.starts.tolist() == [key * 60 for key, *_ in expected]
    assert from_added.tolist() == [side == 1 for _, side, *_ in expected]
    if len(new) and keep.any():  # (merged: else one side is given back as it is)
        assert len(old) == 0 and len(old.id_blob) == 0


@pytest.mark.parametrize("out_of_order", [False, True])
def test_ids_in_order_keep_no_places_and_give_the_same_index(
    out_of_order: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids set in the records' order keep only every ``mark``-th one's place; an id set
    out of order places them all; either way each id reads back and the index is the
    one made with every place kept from the start."""
    monkeypatch.setattr(Entries, "mark", 4)
    ids = [b"A%d" % i * (1 + i % 3) for i in range(30)]

    def filled(placed: bool) -> Entries:
        entries = Entries(np.arange(30, 0, -1, dtype=np.uint64))
        if placed:
            entries.place()
        entries.set_ids(range(10), ids[:10])
        entries.refuse(5, keep_id=False)  # an id dropped while they come in order
        entries.set_ids([12, 13, 17], [ids[12], ids[13], ids[17]])
        if out_of_order:
            entries.set_ids([11], [ids[11]])
        entries.set_ids(range(20, 30), ids[20:30])
        return entries

    lazy, placed = filled(placed=False), filled(placed=True)
    assert (lazy.id_at is None) is not out_of_order
    for at in (0, 3, 4, 9, 12, 13, 17, 20, 23, 24, 29):
        assert lazy.id(at) == placed.id(at) == ids[at]
    made = [FileDiff(LineIndex(), np.zeros(0, np.bool_), new).index() for new in (lazy, placed)]
    for name in ("keys", "id_keys", "starts", "id_lens", "id_blob"):
        assert np.array_equal(getattr(made[0], name), getattr(made[1], name)), name
    assert ids[5] not in made[0].ids(range(len(made[0])))  # (dropped: not in the index)


def test_32_bit_starts_are_stored_as_64_bit_ones_converted_a_part_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(csv_store, "_CONVERTED", 7)  # many parts, the last one short
    keys = np.arange(1, 51, dtype=np.uint64)
    ids = [f"A{i}".encode() for i in range(50)]
    lens = np.array([len(i) for i in ids], np.uint16)
    blob = np.frombuffer(b"".join(ids), np.uint8)
    starts = np.arange(50, dtype=np.int64) * 86_400 - 10**9  # (some before 1970)
    wide = LineIndex(keys, keys, starts, lens, blob, b"s" * 16, True)
    narrow = LineIndex(keys, keys, starts.astype(np.int32), lens, blob, b"s" * 16, True)
    pieces = csv_store.index_pieces(narrow, base=True)
    assert not all(isinstance(piece, memoryview) for piece in pieces)  # made as written
    assert sum(piece.nbytes for piece in pieces) == len(pack_index(wide, base=True))
    assert pack_index(narrow, base=True) == pack_index(wide, base=True)  # generation too
    found = unpack_index(pack_index(narrow))
    assert found is not None and found[0].starts.tolist() == starts.tolist()


def test_a_line_twice_is_the_old_record_once() -> None:
    old = LineIndex(np.array([0, 7, 9], np.uint64), salt=b"s")
    lines = np.array([9, 7, 9, 5, 7], np.uint64)
    found = match_lines(lines, old)
    assert list(found.needs) == [False, False, True, True, True]
    assert list(found.used) == [False, True, True]  # the record not imported: read again
    diff = FileDiff(old, found.used)
    assert diff.dirty is True  # the unimported record is gone from it


def test_a_few_lines_to_read_among_many_are_found_a_part_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lines matched against an old index (two changed, one twice) give the same lines to
    read and old records used, whatever the part of lines looked at a time."""
    old = LineIndex(np.arange(1, 201, dtype=np.uint64), salt=b"s")
    lines = np.arange(1, 201, dtype=np.uint64)[::-1].copy()  # (moved: another order)
    lines[[10, 150]] = [1_000, 1_001]  # two records changed
    lines[60] = lines[61]  # one line twice (the record of line 60 gone)
    whole = match_lines(lines, old)
    for part in (1, 3, 64):
        monkeypatch.setattr(csv_match, "GATHER", part)
        found = match_lines(lines, old)
        assert np.array_equal(found.needs, whole.needs) and np.array_equal(found.used, whole.used)
    assert np.flatnonzero(whole.needs).tolist() == [10, 61, 150]
    assert int(np.count_nonzero(~whole.used)) == 3


@pytest.mark.parametrize("seed", range(3))
def test_ids_taken_as_hashes_give_what_a_set_gives(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Past ``SeenIds.small`` ids, the ids taken are kept as sorted hashes: the same
    duplicates are found (messy exports, duplicate ids, the streamed reading)."""
    from linker_tui.store.schema import create_schema, drop_schema
    from tests.test_sync_bulk import _runs

    in_a_set = _runs(engine, tmp_path, seed, bulk=True)
    drop_schema(engine)
    create_schema(engine)
    monkeypatch.setattr(SeenIds, "small", 1)
    assert _runs(engine, tmp_path, seed, bulk=True) == in_a_set


def test_seen_ids_find_an_id_in_any_level() -> None:
    ids = [f"P{i}".encode() for i in range(40)]
    entries = Entries(np.arange(1, 41, dtype=np.uint64))
    entries.set_ids(range(40), ids)
    seen = SeenIds(entries)
    seen.small = 3
    for at in range(0, 20):
        seen.add([at], [ids[at]])  # one at a time: a few in the set, the others in levels
    seen.add(list(range(20, 30)), ids[20:30])
    assert all(pms_id in seen for pms_id in ids[:30])
    assert not any(pms_id in seen for pms_id in ids[30:])
    assert seen.isdisjoint(ids[30:]) and not seen.isdisjoint([ids[35], ids[7]])
    capped = SeenIds(entries)
    capped.biggest = 8  # levels merged up to 8 ids: more levels, none bigger
    for start in range(0, 39, 3):
        capped.add(list(range(start, start + 3)), ids[start : start + 3])
    assert max(len(keys) for keys, _where in capped.levels) <= 8 < len(ids)
    assert all(pms_id in capped for pms_id in ids[:39]) and ids[39] not in capped
    assert not capped.isdisjoint([ids[39], ids[0]]) and capped.isdisjoint([ids[39]])


def test_seen_ids_of_the_same_short_hash_are_told_apart_by_their_bytes() -> None:
    """Levels keep only the high 32 bits of the ids' hashes: two ids sharing them (found
    by search among A0..A299999) are still two ids, the one not taken is not seen."""
    taken, other = b"A107709", b"A177229"
    assert id_key(taken) != id_key(other)
    assert short_keys(id_keys([taken])) == short_keys(id_keys([other]))
    ids = [taken, b"P1", b"P2", other]
    entries = Entries(np.arange(1, 5, dtype=np.uint64))
    entries.set_ids(range(4), ids)
    seen = SeenIds(entries)
    seen.add([0, 1, 2], ids[:3])  # a level, not the set
    assert seen.levels and not seen.recent
    assert taken in seen and other not in seen
    assert seen.isdisjoint([other, b"P3"]) and not seen.isdisjoint([other, taken])
    seen.add([3], [other])
    assert other in seen


def test_the_window_of_a_file_is_its_records_first_and_last_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """min..max of the starts of the old records still in the file and of those read
    (0: no start), a few at a time."""
    monkeypatch.setattr(csv_index, "GATHER", 3)
    rng = np.random.default_rng(9)
    old = LineIndex(np.arange(1, 21, dtype=np.uint64), starts=rng.integers(0, 9, 20) * 1000)
    used = rng.random(20) < 0.5
    diff = FileDiff(old, used, Entries(np.arange(1, 8, dtype=np.uint64)))
    diff.new.set_starts(range(7), [0, 500, 0, 90_000, 0, 0, 0])
    starts = np.concatenate((old.starts[used], diff.new.starts))
    starts = starts[starts != 0]
    assert diff.window() == (int(starts.min()), int(starts.max()))
    assert FileDiff(old, np.zeros(20, np.bool_)).window() is None


@pytest.mark.parametrize("part", [1, 2, 1 << 16])
def test_known_ids_of_the_same_short_hash_are_told_apart_by_their_bytes(
    part: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ids of the old records still in the file are kept as the high 32 bits of their
    hashes (found a part of ``GATHER`` records at a time): an id sharing them with a kept
    one is not taken for it; an old record not in the file (``used`` False) is not
    known."""
    monkeypatch.setattr(csv_index, "GATHER", part)
    monkeypatch.setattr(seen_ids, "GATHER", part)
    taken, other = b"A107709", b"A177229"  # (the same high 32 bits)
    ids = [b"P1", taken, b"P2", b"P3", b"GONE"]
    lens = np.array([len(i) for i in ids], np.uint16)
    blob = np.frombuffer(b"".join(ids), np.uint8)
    keys = np.arange(1, 6, dtype=np.uint64)
    old = LineIndex(keys, id_keys(ids), np.zeros(5, np.int64), lens, blob)
    known = KnownIds(old, np.array([True, True, True, True, False]))
    assert all(pms_id in known for pms_id in ids[:4])
    assert other not in known and b"GONE" not in known and "P1" not in known
    assert known.isdisjoint([other, b"GONE", b"P9"]) and not known.isdisjoint([other, b"P3"])
    assert old.ids([4, 1, 0]) == [b"GONE", taken, b"P1"] and old.ids([]) == []
    nothing = KnownIds(old, np.zeros(5, np.bool_))
    assert taken not in nothing and nothing.isdisjoint(ids)


def test_gone_ids_are_removed_unless_a_record_read_has_them() -> None:
    ids = [b"A1", b"A2", b"", b"A4", b"A5"]  # (the third record has no id)
    lens = np.array([len(i) for i in ids], np.uint16)
    blob = np.frombuffer(b"".join(ids), np.uint8)
    old = LineIndex(
        np.arange(1, 6, dtype=np.uint64), id_keys(ids), np.zeros(5, np.int64), lens, blob
    )
    gone = GoneIds(old, np.array([True, False, False, False, True]))  # A2, A4 gone
    assert gone and gone.removed() == {b"A2", b"A4"}
    gone.saw([b"A4", b"A1", b"X9"])  # A4 read again (moved, changed): not removed
    gone.saw([])
    assert gone.removed() == {b"A2"}
    assert not GoneIds(old, np.ones(5, np.bool_)) and not GoneIds(LineIndex(), np.zeros(0, bool))


def test_an_id_of_64_four_byte_characters_is_kept_whole(engine: Engine, tmp_path: Path) -> None:
    """The index keeps each id's length in bytes: 64 characters of 4 bytes are 256."""
    data = many_appointments(5, 10)
    long_id = "\U0001f600" * 64
    data.appointments[2][0] = long_id
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().problems == 0
    stored = load_index(_state(engine), APPOINTMENTS)
    assert long_id.encode() in stored.index.ids(range(len(stored.index)))
    del data.appointments[2]  # gone from the export: cancelled
    _rewrite(folder, data, 50)
    summary = sync.run()
    assert summary.ok and summary.cancelled == 1
    assert appointments_by_pms_id(engine)[long_id].status == "cancelled"
