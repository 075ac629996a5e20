"""A broken PMS export costs its bad rows, never the run, and never cancels what could not
be read (issue 13: "one bad input never blocks the others")."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.store.db import read_session
from linker_tui.store.models import Patient
from linker_tui.sync.queries import sync_problems
from tests.sync_support import (
    APPOINTMENT_HEADER,
    ExportData,
    appointment,
    appointments_by_pms_id,
    make_sync,
    sample,
)


def _problems(engine: Engine, run_id: int | None) -> list[str]:
    assert run_id is not None
    return [str(p) for p in sync_problems(engine, run_id)]


def _busy_export() -> ExportData:
    """The sample and 300 more scheduled appointments in December."""
    data = sample()
    data.appointments += [
        appointment(f"B{i:03d}", "1003", f"2026-12-{1 + i % 28:02d}T{8 + i % 8:02d}:00")
        for i in range(300)
    ]
    return data


def _append(folder: Path, name: str, raw: bytes) -> None:
    with (folder / name).open("ab") as handle:
        handle.write(raw)


def test_a_stray_quote_inside_an_unquoted_field_is_an_ordinary_character(
    engine: Engine, tmp_path: Path
) -> None:
    data = _busy_export()
    sync = make_sync(engine, data.write(tmp_path / "export", age=60))
    assert sync.run().inserted == 2 + 3 + 305
    lines = (tmp_path / "export" / "appointments.csv").read_bytes().split(b"\n")
    lines[50] = lines[50].replace(b"Cleaning", b'Crown 6" bridge')
    (tmp_path / "export" / "appointments.csv").write_bytes(b"\n".join(lines))
    summary = sync.run()
    assert summary.ok and summary.problems == 0, _problems(engine, summary.run_id)
    assert (summary.updated, summary.cancelled) == (1, 0)
    found = appointments_by_pms_id(engine)
    assert sum(a.reason == 'Crown 6" bridge' for a in found.values()) == 1
    assert all(a.status != "cancelled" for a in found.values())


def test_rows_that_cannot_be_read_are_never_cancelled(engine: Engine, tmp_path: Path) -> None:
    """An opening quote that never closes swallows the rest of the file into one record:
    that record is reported, and the appointments it hid are not cancelled."""
    data = _busy_export()
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().ok
    lines = (folder / "appointments.csv").read_bytes().split(b"\n")
    lines[200] = lines[200].replace(b",Cleaning,", b',"Crown 6 bridge,')
    (folder / "appointments.csv").write_bytes(b"\n".join(lines))
    summary = sync.run()
    assert summary.ok and summary.cancelled == 0
    problems = _problems(engine, summary.run_id)
    assert problems[0].startswith("appointments.csv:201: ")
    withheld = "were not cancelled: the file has rows that could not be read"
    assert any(withheld in p for p in problems)
    assert all(a.status != "cancelled" for a in appointments_by_pms_id(engine).values())


def test_wrong_number_of_values_truncated_row_and_a_doubled_column(
    engine: Engine, tmp_path: Path
) -> None:
    data = sample()
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().inserted == 10
    data.appointments[1][6] = "Changed"  # a changed row that now has a value too many
    data.appointments[1].append("extra")
    data.appointments.append(appointment("A6", "1001", "2026-12-11T09:00"))
    folder = data.write(folder, age=60)
    _append(folder, "appointments.csv", b"A7,1001,DOC1,2026-12-1")  # cut off mid-row
    providers = (folder / "providers.csv").read_text("utf-8").split("\n", 1)
    (folder / "providers.csv").write_text(providers[0] + ",abbr\n" + providers[1], "utf-8")
    summary = sync.run()
    assert summary.ok, summary.text()
    assert _problems(engine, summary.run_id) == [
        "providers.csv:1: the header names column(s) twice: abbr",
        "appointments.csv:3: 10 values where the header has 9 columns",
        "appointments.csv:8: 4 values where the header has 9 columns",
        # A2's row could not be read: it is not taken as deleted
        "appointments.csv: 1 appointment(s) missing from the export were not cancelled: "
        "the file has rows that could not be read",
    ]
    assert summary.inserted == 1 and "A6" in appointments_by_pms_id(engine)
    assert summary.cancelled == 0 and appointments_by_pms_id(engine)["A2"].status == "scheduled"


def test_out_of_range_times_are_bad_rows(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    data.appointments += [
        appointment("Y1", "1001", "0001-01-01T00:00:00+14:00"),
        appointment("Y2", "1001", "9999-12-31T23:59:00-05:00"),
        appointment("Y3", "1001", "2026-12-11T09:00"),
    ]
    data.appointments[-1][8] = "0001-01-01T00:00:00+14:00"  # updated_at
    summary = make_sync(engine, data.write(tmp_path / "export")).run()
    assert summary.ok and summary.inserted == 10, summary.text()
    problems = _problems(engine, summary.run_id)
    assert [p.split(": ")[0] for p in problems] == [
        "appointments.csv:7",
        "appointments.csv:8",
        "appointments.csv:9",
    ]
    assert all("the year is outside 1800-2999" in p for p in problems)


def test_nul_characters_are_dropped_per_row(engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL refuses NUL in text: the export's NULs are dropped at the boundary."""
    data = sample()
    data.patients[0][1] = "Ha\0rt"
    data.appointments[1][6] = "Clean\0ing"
    data.appointments.append(appointment("A\0Z", "1001", "2026-12-11T09:00"))
    summary = make_sync(engine, data.write(tmp_path / "export")).run()
    assert summary.ok and summary.problems == 0, summary.text()
    found = appointments_by_pms_id(engine)
    assert found["A2"].reason == "Cleaning" and "AZ" in found
    with read_session(engine) as s:
        assert s.exec(select(Patient).where(Patient.pms_id == "1001")).one().last_name == "Hart"


def test_an_id_too_long_for_its_column_is_a_bad_row(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    data.appointments.append(appointment("X" * 65, "1001", "2026-12-11T09:00"))
    summary = make_sync(engine, data.write(tmp_path / "export")).run()
    assert summary.ok and summary.inserted == 10
    assert _problems(engine, summary.run_id) == [
        "appointments.csv:7: appointment_id is longer than 64 characters"
    ]


def test_bytes_that_are_not_utf8_cost_their_row(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    folder = data.write(tmp_path / "export")
    _append(folder, "appointments.csv", b"B1,1001,DOC1,2026-12-05T15:00,60,OP1,J\xe9r,scheduled,\n")
    _append(folder, "appointments.csv", b"B2,1001,DOC1,2026-12-05T16:00,60,OP1,ok,scheduled,\n")
    summary = make_sync(engine, folder).run()
    assert summary.ok and summary.inserted == 11
    assert _problems(engine, summary.run_id) == ["appointments.csv:7: not UTF-8 text"]
    assert len(APPOINTMENT_HEADER) == 9
