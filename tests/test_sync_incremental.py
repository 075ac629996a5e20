"""The incremental CSV reading: unchanged lines are known by their bytes, wherever they
moved; only the other lines are parsed; an unchanged file is not parsed at all."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from linker_tui.ingest import csv_file
from linker_tui.sync import csv_changes
from linker_tui.sync.csv_changes import FileReader
from linker_tui.sync.csv_folder import CsvFolderConnector
from tests.sync_support import (
    appointment,
    appointments_by_pms_id,
    make_sync,
    many_appointments,
    patient,
    sample,
)


class _Parsed:
    """Counts the records the csv module parses, per file."""

    def __init__(self, patch: pytest.MonkeyPatch) -> None:
        self.records: dict[str, int] = {}
        self.files: list[str] = []
        self.read_whole: list[str] = []  # files read into memory (not only hashed)
        real_records, real_diff = csv_file.CsvLines.records, FileReader.diff
        real_read = CsvFolderConnector._read
        seen = self

        def records(self: csv_file.CsvLines, first: int, end: int):  # type: ignore[no-untyped-def]
            for chunk in real_records(self, first, end):
                name = seen.files[-1]
                seen.records[name] = seen.records.get(name, 0) + len(chunk.rows)
                yield chunk

        def diff(self: FileReader, data, old):  # type: ignore[no-untyped-def]
            seen.files.append(self.name)
            return real_diff(self, data, old)

        def read(self: CsvFolderConnector, name, stop, problems):  # type: ignore[no-untyped-def]
            seen.read_whole.append(name)
            return real_read(self, name, stop, problems)

        patch.setattr(csv_file.CsvLines, "records", records)
        patch.setattr(csv_changes.FileReader, "diff", diff)
        patch.setattr(CsvFolderConnector, "_read", read)

    def clear(self) -> None:
        self.records.clear()
        self.files.clear()
        self.read_whole.clear()


def test_rows_in_another_order_are_not_read_again(engine: Engine, tmp_path: Path) -> None:
    data = many_appointments(300, 20)
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    with pytest.MonkeyPatch.context() as patch:
        parsed = _Parsed(patch)
        assert sync.run().inserted == 321
        parsed.clear()
        random.Random(3).shuffle(data.appointments)
        changed = {row[0] for row in data.appointments[:7]}
        for row in data.appointments[:7]:
            row[6] = "Moved and changed"
        data.write(folder, age=60)
        summary = sync.run()
    assert summary.ok and (summary.inserted, summary.updated, summary.problems) == (0, 7, 0)
    # the header and the 7 changed lines; the other 293 only fingerprinted
    assert parsed.records == {"appointments.csv": 8}
    found = appointments_by_pms_id(engine)
    assert {pms_id for pms_id, a in found.items() if a.reason == "Moved and changed"} == changed


def test_an_unchanged_file_is_not_parsed(engine: Engine, tmp_path: Path) -> None:
    data = many_appointments(50, 20)
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    with pytest.MonkeyPatch.context() as patch:
        parsed = _Parsed(patch)
        sync.run()
        parsed.clear()
        data.patients[0][2] = "Renamed"
        data.write(folder, age=30)  # every file written again; only patients.csv differs
        first = sync.run()
        assert first.ok and first.updated == 1
        assert parsed.files == ["patients.csv"]  # the others: same size and hash of the bytes
        parsed.clear()
        old = (folder / "patients.csv").stat().st_mtime - 60
        os.utime(folder / "patients.csv", (old, old))
        second = sync.run()  # patients.csv touched: same bytes, new time
        assert second.ok and (second.updated, second.problems) == (0, 0)
        assert parsed.files == [] and parsed.read_whole == []  # hashed a block at a time
        parsed.clear()
        third = sync.run(force=True)  # same size and time: not even read
        assert third.ok and parsed.files == []
        parsed.clear()
        text = (folder / "patients.csv").read_bytes()
        assert b"Renamed" in text
        (folder / "patients.csv").write_bytes(text.replace(b"Renamed", b"Remaned"))
        os.utime(folder / "patients.csv", (old + 1, old + 1))  # same size, another time
        fourth = sync.run()
        assert fourth.ok and fourth.updated == 1 and parsed.files == ["patients.csv"]


def test_a_file_with_a_refused_row_is_read_again(engine: Engine, tmp_path: Path) -> None:
    """An appointment refused for its unknown patient arrives once the patient does,
    though its own file did not change."""
    data = sample()
    data.appointments.append(appointment("A9", "1009", "2026-12-11T09:00"))
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    assert sync.run().problems == 1
    assert "A9" not in appointments_by_pms_id(engine)
    data.patients.append(patient("1009", "New", "Person"))
    data.write(folder, age=30)
    summary = sync.run()
    assert summary.ok and summary.problems == 0 and summary.inserted == 2
    assert "A9" in appointments_by_pms_id(engine)


def test_a_quote_opened_in_a_changed_line_takes_the_next_lines(
    engine: Engine, tmp_path: Path
) -> None:
    data = many_appointments(10, 20)
    folder = data.write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    sync.run()
    path = folder / "appointments.csv"
    lines = path.read_bytes().split(b"\n")
    # A3's reason opens a quote that closes on the next line: A4's line becomes part of
    # A3's reason, so A4 is gone from the file (the record spans two lines)
    lines[4] = lines[4].replace(b",Cleaning,", b',"Cleaning')
    lines[5] = lines[5] + b'",scheduled,'
    path.write_bytes(b"\n".join(lines))
    old = path.stat().st_mtime - 60
    os.utime(path, (old, old))
    summary = sync.run()
    found = appointments_by_pms_id(engine)
    assert summary.ok, summary.text()
    assert found["A3"].reason.startswith("Cleaningscheduled,") and "\nA4," in found["A3"].reason
    assert found["A4"].status == "cancelled"  # no longer in the export
    lines[5] = lines[5].removesuffix(b'",scheduled,')
    lines[4] = lines[4].replace(b',"Cleaning', b",Cleaning,")
    path.write_bytes(b"\n".join(lines))
    os.utime(path, (old + 1, old + 1))
    summary = sync.run()
    found = appointments_by_pms_id(engine)
    assert summary.ok and found["A3"].reason == "Cleaning"
    assert found["A4"].status == "scheduled"


def test_a_changed_setting_reads_every_row_again(engine: Engine, tmp_path: Path) -> None:
    from linker_tui.ingest.pms_export import ExportFormat
    from tests.builders import TZ

    data = many_appointments(20, 20)
    folder = data.write(tmp_path / "export", age=60)
    make_sync(engine, folder).run()
    moved = make_sync(
        engine, folder, fmt=ExportFormat.with_statuses(TZ, {"scheduled": "confirmed"})
    )
    summary = moved.run()
    assert summary.ok and summary.updated == 20
    assert {a.status for a in appointments_by_pms_id(engine).values()} == {"confirmed"}
