"""The sync engine: idempotent, incremental, cancellations, bad rows, atomic runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

import linker_tui.sync.appointment_writer as appointment_writer
import linker_tui.sync.engine as sync_engine
from linker_tui.ingest.pms_export import ExportFormat
from linker_tui.store.db import read_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import Appointment, Patient, PatientNameKey, Provider, SyncRun
from linker_tui.sync.control import StopFlag
from linker_tui.sync.queries import last_successful_sync, latest_runs, sync_problems
from linker_tui.sync.sql import RunSql
from tests.builders import TZ
from tests.sync_support import (
    ExportData,
    appointment,
    appointments_by_pms_id,
    make_sync,
    patient,
    sample,
    snapshot,
)


def _problems(engine: Engine, run_id: int | None) -> list[str]:
    assert run_id is not None
    return [str(p) for p in sync_problems(engine, run_id)]


def test_first_run_imports_everything_and_records_the_run(engine: Engine, tmp_path: Path) -> None:
    folder = sample().write(tmp_path / "export")
    summary = make_sync(engine, folder).run(trigger="cli")
    assert summary.ok and summary.run_id is not None
    assert (summary.rows_seen, summary.inserted, summary.updated, summary.cancelled) == (
        10,
        10,
        0,
        0,
    )
    assert summary.detail["appointments_inserted"] == 5
    assert summary.detail["patients_inserted"] == 3
    found = appointments_by_pms_id(engine)
    assert found["A2"].start == datetime(2026, 12, 3, 9, 30, tzinfo=TZ)
    assert found["A4"].reason == "Filling, composite"
    assert found["A5"].status == "confirmed"
    with read_session(engine) as s:
        bill = s.exec(select(Patient).where(Patient.pms_id == "1001")).one()
        assert bill.first_name_key == "william" and bill.preferred_name_key == "bill"
        zoe = s.exec(select(Patient).where(Patient.pms_id == "1002")).one()
        keys = s.exec(select(PatientNameKey.key).where(PatientNameKey.patient_id == zoe.id)).all()
        assert "cote" in keys  # compound surname: another key
        run = s.get(SyncRun, summary.run_id)
        assert run is not None and run.status == "ok" and run.finished_at is not None
        assert run.trigger == "cli" and run.inserted == 10 and run.workstation == "sync@desk-1"
    assert latest_runs(engine, 5)[0].run_id == summary.run_id
    last = last_successful_sync(engine)
    assert last is not None and last.run_id == summary.run_id
    assert "10 new" in summary.text()


def test_a_second_run_with_the_same_export_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    folder = sample().write(tmp_path / "export", age=60)
    sync = make_sync(engine, folder)
    first = sync.run()
    before = snapshot(engine)
    forced = sync.run(force=True)  # reads every row again
    assert forced.ok and forced.rows_seen == 10
    assert (forced.inserted, forced.updated, forced.cancelled, forced.problems) == (0, 0, 0, 0)
    assert not forced.changed
    unchanged = sync.run()  # the cursor says the files did not change: not even read
    assert unchanged.ok and unchanged.rows_seen == 0
    assert (unchanged.inserted, unchanged.updated) == (0, 0)
    assert f"unchanged since sync #{forced.run_id}" in unchanged.note
    after = snapshot(engine)
    # only the stored state's run id moves on; the data is identical
    assert [r for r in after if r[0] != "state"] == [r for r in before if r[0] != "state"]
    assert first.run_id is not None and forced.run_id == first.run_id + 1


def test_only_changed_rows_are_written(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    sync = make_sync(engine, data.write(tmp_path / "export"))
    sync.run()
    ids_before = {k: a.id for k, a in appointments_by_pms_id(engine).items()}
    data.appointments[1] = appointment("A2", "1001", "2026-12-03T10:30")  # moved
    data.appointments[3][6] = "Crown seat"  # new reason
    data.patients[2] = patient("1003", "Ava", "Brown-Smith", "2001-05-06")  # married
    data.appointments.append(appointment("A6", "1003", "2026-12-11T08:00"))
    data.write(tmp_path / "export")
    summary = sync.run()
    assert summary.ok and summary.rows_seen == 11
    assert (summary.inserted, summary.updated, summary.cancelled) == (1, 3, 0)
    assert summary.detail["appointments_updated"] == 2
    assert summary.detail["patients_updated"] == 1
    found = appointments_by_pms_id(engine)
    assert found["A2"].start == datetime(2026, 12, 3, 10, 30, tzinfo=TZ)
    assert found["A4"].reason == "Crown seat"
    assert {k: found[k].id for k in ids_before} == ids_before  # rows updated in place
    with read_session(engine) as s:
        ava = s.exec(select(Patient).where(Patient.pms_id == "1003")).one()
        assert ava.last_name_key == "brown smith"
        keys = set(s.exec(select(PatientNameKey.key).where(PatientNameKey.patient_id == ava.id)))
        assert "smith" in keys


def test_a_row_written_differently_but_meaning_the_same_is_not_counted(
    engine: Engine, tmp_path: Path
) -> None:
    data = sample()
    sync = make_sync(engine, data.write(tmp_path / "export"))
    sync.run()
    data.appointments[1][6] = "  Cleaning "  # read as "Cleaning" again
    data.appointments[2][7] = "Sched"  # the PMS's word for scheduled
    data.write(tmp_path / "export")
    summary = sync.run()
    assert summary.ok and (summary.inserted, summary.updated) == (0, 0)


def test_cancelled_and_vanished_appointments(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    sync = make_sync(engine, data.write(tmp_path / "export"))
    sync.run()
    data.appointments[2][7] = "cancelled"  # A3 cancelled in the PMS
    del data.appointments[3]  # A4 deleted in the PMS (inside the window)
    del data.appointments[0]  # A1: the oldest; the window now starts later: kept
    data.write(tmp_path / "export")
    summary = sync.run()
    assert summary.ok and summary.cancelled == 2
    assert summary.detail["appointments_vanished"] == 1
    assert summary.detail["appointments_cancelled"] == 1
    found = appointments_by_pms_id(engine)
    assert found["A3"].status == "cancelled" and found["A4"].status == "cancelled"
    assert found["A1"].status == "completed"  # outside the export's window: history
    assert found["A2"].status == "scheduled"
    again = sync.run(force=True)
    assert again.cancelled == 0 and again.updated == 0
    # the deleted appointment comes back: written again
    data.appointments.append(appointment("A4", "1003", "2026-12-07T14:00"))
    data.write(tmp_path / "export")
    back = sync.run()
    assert back.updated == 1 and appointments_by_pms_id(engine)["A4"].status == "scheduled"


def test_the_window_can_be_set(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    sync = make_sync(engine, data.write(tmp_path / "export"), window_days_back=30)
    sync.run()
    del data.appointments[0]  # A1 (a week ago) is inside "30 days back"
    del data.appointments[-1]  # A5 (Dec 10) is after "today": outside (no days ahead)
    data.write(tmp_path / "export")
    summary = sync.run()
    found = appointments_by_pms_id(engine)
    assert summary.detail["appointments_vanished"] == 1
    assert found["A1"].status == "cancelled" and found["A5"].status == "confirmed"


def test_a_truncated_export_does_not_cancel_the_schedule(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    data.appointments += [
        appointment(f"B{i:03d}", "1003", f"2026-12-{1 + i % 28:02d}T{8 + i % 8:02d}:00")
        for i in range(200)
    ]
    sync = make_sync(engine, data.write(tmp_path / "export"))
    sync.run()
    data.appointments = data.appointments[:40] + data.appointments[-5:]
    data.write(tmp_path / "export")
    summary = sync.run()
    assert summary.ok and summary.cancelled == 0
    assert any(
        "were not cancelled (a partial export?)" in p for p in _problems(engine, summary.run_id)
    )
    assert all(a.status != "cancelled" for a in appointments_by_pms_id(engine).values())


def test_bad_rows_are_reported_and_the_rest_imported(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    data.patients.append(patient("", "No", "Id"))
    data.patients.append(patient("1004", "Bad", "Date", "1980-13-45"))
    data.appointments += [
        appointment("", "1001", "2026-12-05T09:00"),  # missing id (line 7)
        appointment("B2", "1001", "not-a-date"),  # line 8
        appointment("B3", "1001", "2026-12-05T10:00", "DOC9"),  # unknown provider
        appointment("A2", "1001", "2026-12-05T11:00"),  # duplicate id
        appointment("B5", "9999", "2026-12-05T12:00"),  # unknown patient
        appointment("B6", "1001", "2026-12-05T13:00", status="tentative"),  # unknown status
        appointment("B7", "1001", "2026-12-05T14:00", status="PtNote"),  # not an appointment
    ]
    folder = data.write(tmp_path / "export")
    with (folder / "appointments.csv").open("ab") as handle:
        handle.write(b"B8,1001,DOC1,2026-12-05T15:00,60,OP1,J\xe9r\xf4me,scheduled,\n")
        handle.write(b"B9,1001,DOC1,2026-12-05T16:00,60,OP1,Fine,scheduled,\n")
    sync = make_sync(engine, folder)
    summary = sync.run()
    expected = [
        "patients.csv:5: patient_id is missing",
        "patients.csv:6: birthdate '1980-13-45' is not a date (YYYY-MM-DD)",
        "appointments.csv:7: appointment_id is missing",
        "appointments.csv:8: start 'not-a-date' is not an ISO 8601 date-time",
        "appointments.csv:10: duplicate id 'A2'",
        "appointments.csv:12: unknown status 'tentative'",
        "appointments.csv:14: not UTF-8 text",
        "appointments.csv:9: unknown provider 'DOC9'",
        "appointments.csv:11: unknown patient '9999'",
    ]
    assert summary.ok and summary.problems == len(expected)
    assert _problems(engine, summary.run_id) == expected
    assert summary.detail["rows_ignored"] == 1
    found = appointments_by_pms_id(engine)
    assert set(found) == {"A1", "A2", "A3", "A4", "A5", "B9"}
    assert found["A2"].start == datetime(2026, 12, 3, 9, 30, tzinfo=TZ)  # the first A2 kept
    # bad rows are not remembered as imported: reported again next time, nothing written
    again = sync.run(force=True)
    assert _problems(engine, again.run_id) == expected
    assert (again.inserted, again.updated) == (0, 0)
    # fixed in the PMS: imported
    data.appointments[-3] = appointment("B5", "1003", "2026-12-05T12:00")
    data.write(tmp_path / "export")  # without the lines B8 and B9 appended by hand
    fixed = make_sync(engine, folder).run()
    assert (fixed.inserted, fixed.cancelled) == (1, 1)  # B5 new, B9 gone
    assert "unknown patient" not in " ".join(_problems(engine, fixed.run_id))


def test_missing_file_and_columns_keep_what_is_stored(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    folder = data.write(tmp_path / "export")
    sync = make_sync(engine, folder)
    sync.run()
    (folder / "appointments.csv").write_text("appointment_id,patient_id\nA2,1001\n", "utf-8")
    summary = sync.run()
    assert summary.ok and summary.cancelled == 0
    assert _problems(engine, summary.run_id) == [
        "appointments.csv:1: missing column(s): start, status"
    ]
    (folder / "appointments.csv").unlink()
    gone = sync.run()
    assert _problems(engine, gone.run_id) == ["appointments.csv: cannot open: the file is missing"]
    assert all(a.status != "cancelled" for a in appointments_by_pms_id(engine).values())
    data.write(folder)
    back = sync.run()
    assert back.ok and (back.inserted, back.updated, back.cancelled) == (0, 0, 0)


def test_missing_export_folder_fails_the_run(engine: Engine, tmp_path: Path) -> None:
    summary = make_sync(engine, tmp_path / "nowhere").run()
    assert summary.status is SyncRunStatus.FAILED
    assert "does not exist" in summary.error and summary.error.startswith("PMS: ")
    assert last_successful_sync(engine) is None


def test_utf8_bom_crlf_quoted_newlines_and_date_formats(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "providers.csv").write_bytes(
        b"\xef\xbb\xbfprovider_id,abbr,first_name,last_name,title,active\r\nDOC1,AC,A,C,Dr.,1\r\n"
    )
    (folder / "patients.csv").write_bytes(
        "\ufeffpatient_id,last_name,first_name,birthdate\r\n1001,Núñez,José,04/02/1980\r\n".encode()
    )
    (folder / "appointments.csv").write_bytes(
        b"appointment_id,patient_id,provider_id,start,status,reason\r\n"
        b'A1,1001,DOC1,12/03/2026 09:30,Sched,"Line one\r\nline two"\r\n'
        b"A2,1001,DOC1,2026-12-04T10:00,UnschedList,x\r\n"
        b"A3,1001,DOC1,12/05/2026 10:00,Broken,x\r\n"
    )
    fmt = ExportFormat.with_statuses(
        TZ, {"Broken": "cancelled"}, date_format="%m/%d/%Y", datetime_format="%m/%d/%Y %H:%M"
    )
    summary = make_sync(engine, folder, fmt=fmt).run()
    assert summary.ok and summary.problems == 0 and summary.inserted == 5
    found = appointments_by_pms_id(engine)
    assert found["A1"].start == datetime(2026, 12, 3, 9, 30, tzinfo=TZ)
    assert found["A1"].reason == "Line one\nline two" and found["A1"].status == "scheduled"
    assert found["A2"].status == "unscheduled" and found["A3"].status == "cancelled"
    with read_session(engine) as s:
        jose = s.exec(select(Patient)).one()
        assert jose.birthdate is not None and jose.birthdate.isoformat() == "1980-04-02"


def _boom(*_: Any, **__: Any) -> Any:
    raise RuntimeError("disk full")


def test_a_failure_in_the_middle_of_a_run_keeps_the_previous_state(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sample()
    sync = make_sync(engine, data.write(tmp_path / "export"))
    sync.run()
    before = snapshot(engine)
    data.patients[0] = patient("1001", "Billy", "Hart")  # written before the failure
    data.appointments[1][7] = "cancelled"
    data.appointments.append(appointment("A6", "1003", "2026-12-11T08:00"))
    data.write(tmp_path / "export")
    monkeypatch.setattr(sync_engine, "cancel_vanished", _boom)  # after patients, appointments
    failed = sync.run()
    assert failed.status is SyncRunStatus.FAILED and "disk full" in failed.error
    assert (failed.inserted, failed.updated, failed.cancelled) == (0, 0, 0)
    assert snapshot(engine) == before  # nothing of the run was kept, state included
    monkeypatch.undo()
    retried = sync.run()
    assert retried.ok and (retried.inserted, retried.updated, retried.cancelled) == (1, 2, 1)


def test_a_stopped_run_keeps_the_previous_state(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sample()
    sync = make_sync(engine, data.write(tmp_path / "export"))
    sync.run()
    before = snapshot(engine)
    data.appointments.append(appointment("A6", "1003", "2026-12-11T08:00"))
    data.write(tmp_path / "export")
    stop = StopFlag()
    real = appointment_writer.write_appointments  # as the engine calls it

    def stop_midway(db: Any, table: Any, *watched: Any) -> Any:
        result = real(db, table, *watched)
        stop.set()  # the app quits while the appointments are being written
        db.stop.check()
        return result

    monkeypatch.setattr(sync_engine, "write_appointments", stop_midway)
    summary = sync.run(stop=stop)
    assert summary.status is SyncRunStatus.CANCELLED and summary.inserted == 0
    assert snapshot(engine) == before


def test_providers_are_updated_and_counts_per_table(engine: Engine, tmp_path: Path) -> None:
    data = sample()
    sync = make_sync(engine, data.write(tmp_path / "export"))
    sync.run()
    data.providers[1][5] = "0"  # DOC2 left
    data.write(tmp_path / "export")
    summary = sync.run()
    assert summary.detail["providers_updated"] == 1 and summary.updated == 1
    with read_session(engine) as s:
        doc2 = s.exec(select(Provider).where(Provider.pms_id == "DOC2")).one()
        assert doc2.active is False
        assert s.exec(select(func.count()).select_from(Appointment)).one() == 5


def test_a_large_change_set_uses_bulk_lookups(engine: Engine, tmp_path: Path) -> None:
    data = ExportData(
        providers=[["DOC1", "D", "A", "B", "Dr.", "1"]],
        patients=[patient(str(2000 + i), "Pat", f"Num{i}") for i in range(300)],
        appointments=[
            appointment(f"C{i:05d}", str(2000 + i % 300), f"2026-12-{1 + i % 28:02d}T09:00")
            for i in range(25_000)
        ],
    )
    sync = make_sync(engine, data.write(tmp_path / "export"))
    first = sync.run()
    assert first.ok and first.inserted == 25_301
    for row in data.appointments[::1000]:
        row[6] = "Changed"
    data.write(tmp_path / "export")
    second = sync.run()
    assert (second.inserted, second.updated, second.cancelled) == (0, 25, 0)


def test_rows_changed_in_place_added_and_quoted_over_lines_on_a_rerun(
    engine: Engine, tmp_path: Path
) -> None:
    data = sample()
    folder = data.write(tmp_path / "export")
    sync = make_sync(engine, folder)
    sync.run()
    data.appointments[2][6] = "Root canal,\nsecond visit"  # a line break inside quotes
    data.appointments.append(appointment("A2", "1003", "2026-12-12T08:00"))  # duplicate id
    data.appointments.append(appointment("A7", "1003", "2026-12-12T09:00"))
    data.write(folder)
    summary = sync.run()
    assert summary.ok and (summary.inserted, summary.updated) == (1, 1)
    assert _problems(engine, summary.run_id) == ["appointments.csv:8: duplicate id 'A2'"]
    found = appointments_by_pms_id(engine)
    assert found["A3"].reason == "Root canal,\nsecond visit"
    assert found["A2"].patient_id == found["A1"].patient_id  # the first A2 stands
    again = sync.run(force=True)
    assert (again.inserted, again.updated) == (0, 0)
    assert _problems(engine, again.run_id) == ["appointments.csv:8: duplicate id 'A2'"]
    del data.appointments[3]  # A4 deleted: compared as sets now
    data.write(folder)
    deleted = sync.run()
    assert (deleted.inserted, deleted.updated, deleted.cancelled) == (0, 0, 1)
    assert _problems(engine, deleted.run_id) == ["appointments.csv:7: duplicate id 'A2'"]


def test_plain_sql_values_are_stored_as_the_orm_stores_them(engine: Engine) -> None:
    from linker_tui.store.models import UTCDateTime

    moments = [
        datetime(2026, 12, 3, 9, 30, tzinfo=TZ),
        datetime(2026, 7, 1, 23, 59, 58, 123456, tzinfo=TZ),
    ]
    with engine.connect() as conn:
        db = RunSql(conn, StopFlag())
        column = UTCDateTime()
        process = column.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        for moment in moments:
            expected = (
                process(moment) if process else column.process_bind_param(moment, conn.dialect)
            )
            if db.sqlite:
                assert db.stored_datetime(moment) == expected
            assert db.read_datetime(db.stored_datetime(moment)) == moment


def test_a_carriage_return_outside_quotes_is_a_bad_row_not_a_failed_run(
    engine: Engine, tmp_path: Path
) -> None:
    """A stray CR (outside quotes) is a line break to the csv module: the two halves of its
    record are reported with their lines, the rest of the export is imported."""
    folder = sample().write(tmp_path / "export")
    with (folder / "appointments.csv").open("ab") as handle:
        handle.write(b'B1,1001,DOC1,2026-12-05T09:00,60,OP1,"Clean, ing"\rX,scheduled,\n')
        handle.write(b"B2,1001,DOC1,2026-12-05T10:00,60,OP1,Fine,scheduled,\n")
    summary = make_sync(engine, folder).run()
    assert summary.ok, summary.text()
    assert _problems(engine, summary.run_id) == [
        "appointments.csv:7: 7 values where the header has 9 columns",
        "appointments.csv:8: 3 values where the header has 9 columns",
    ]
    assert set(appointments_by_pms_id(engine)) == {"A1", "A2", "A3", "A4", "A5", "B2"}
