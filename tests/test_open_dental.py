"""The Open Dental connector against a real MariaDB database with Open Dental's tables
(``LINKER_TEST_MARIADB_URL``; skipped without it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.store.db import read_session
from linker_tui.store.enums import RequestState
from linker_tui.store.models import OnlineRequest, Patient, Provider
from linker_tui.sync import open_dental_rows, open_dental_session
from linker_tui.sync.engine import SyncEngine
from linker_tui.sync.inbox import RequestInbox
from linker_tui.sync.open_dental import OpenDentalConnector
from linker_tui.sync.queries import sync_problems
from linker_tui.sync.summary import SyncSummary
from tests.builders import TZ
from tests.conftest import make_workflow
from tests.open_dental_support import (
    OpenDental,
    fill,
    make_od_sync,
    needs_mariadb,
    open_dental_database,
)
from tests.sync_support import appointments_by_pms_id, drop_request, fhir_request, snapshot

pytestmark = needs_mariadb


@pytest.fixture
def od() -> Iterator[OpenDental]:
    with open_dental_database() as url:
        database = OpenDental(url)
        fill(database)
        yield database
        database.dispose()


NEVER = 10**9  # patient_check_seconds: patients alone are not looked at during a test


def _sync(engine: Engine, od: OpenDental, *, force: bool = False, **connector: Any) -> SyncSummary:
    connector.setdefault("patient_check_seconds", NEVER)
    return make_od_sync(engine, OpenDentalConnector(od.url, TZ, **connector)).run(force=force)


def _patients(engine: Engine) -> dict[str, Patient]:
    with read_session(engine) as s:
        return {p.pms_id: p for p in s.exec(select(Patient)).all()}


def _providers(engine: Engine) -> dict[int, str]:
    with read_session(engine) as s:
        return {p.id: p.pms_id for p in s.exec(select(Provider)).all() if p.id is not None}


def _problems(engine: Engine, summary: SyncSummary) -> list[str]:
    assert summary.run_id is not None
    return [str(p) for p in sync_problems(engine, summary.run_id)]


def test_first_run_maps_open_dental_rows(sqlite_engine: Engine, od: OpenDental) -> None:
    summary = _sync(sqlite_engine, od)
    assert summary.ok, summary.error
    assert summary.detail["providers_inserted"] == 2
    assert summary.detail["patients_inserted"] == 3
    assert summary.detail["appointments_inserted"] == 5  # the note and the planned one skipped
    assert summary.detail["rows_ignored"] == 2 and summary.problems == 0
    found = appointments_by_pms_id(sqlite_engine)
    assert sorted(found) == ["1", "2", "3", "4", "7"]
    providers = _providers(sqlite_engine)
    two = found["2"]
    assert two.start == datetime(2026, 12, 3, 9, 30, tzinfo=TZ)  # practice-local wall time
    assert (two.duration_min, two.operatory, two.reason, two.status) == (
        60,
        "OP1",
        "Cleaning",
        "scheduled",
    )
    assert providers[found["2"].provider_id or 0] == "1"
    assert providers[found["3"].provider_id or 0] == "2"  # IsHygiene: the hygienist
    assert found["3"].operatory == "Hygiene 2"
    assert [found[n].status for n in ("1", "4", "7")] == ["completed", "broken", "unscheduled"]
    patients = _patients(sqlite_engine)
    bill = patients["1001"]
    assert (bill.first_name, bill.preferred_name, bill.birthdate) == (
        "William",
        "Bill",
        date(1980, 4, 2),
    )
    assert patients["1003"].birthdate is None  # 0001-01-01: unknown
    assert patients["1003"].guarantor_pms_id == "1002"
    with read_session(sqlite_engine) as s:
        titles = {p.pms_id: p.title for p in s.exec(select(Provider)).all()}
    assert titles == {"1": "Dr.", "2": ""}


def test_a_big_read_comes_in_pages(
    sqlite_engine: Engine, od: OpenDental, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open_dental_rows, "PAGE", 2)  # each page its own short statement
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.inserted == 10
    assert sorted(appointments_by_pms_id(sqlite_engine)) == ["1", "2", "3", "4", "7"]
    assert sorted(_patients(sqlite_engine)) == ["1001", "1002", "1003"]


def test_a_first_read_is_written_a_page_at_a_time(
    sqlite_engine: Engine, od: OpenDental, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open_dental_rows, "PAGE", 2)
    batches: list[tuple[str, int]] = []
    real = SyncEngine._write

    def spy(self: SyncEngine, session: Any, sql: Any, run: Any, changes: Any) -> None:
        def counted(name: str, pages: Any) -> Any:
            for page in pages:
                batches.append((name, len(page)))
                yield page

        assert changes.patients.changed == [] and changes.appointments.block is None
        changes.patients.row_batches = counted("patients", changes.patients.row_batches)
        changes.appointments.batches = counted("appointments", changes.appointments.batches)
        real(self, session, sql, run, changes)

    monkeypatch.setattr(SyncEngine, "_write", spy)
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.inserted == 10
    # patients 1001-1003; appointments 1-7, of which 5 and 6 are skipped (a page of none)
    assert batches == [
        ("patients", 2),
        ("patients", 1),
        ("appointments", 2),
        ("appointments", 2),
        ("appointments", 1),
    ]
    assert sorted(appointments_by_pms_id(sqlite_engine)) == ["1", "2", "3", "4", "7"]


class _CutOffReading(OpenDentalConnector):
    """Loses its connection after the first page of patients of a first read (the
    engine has written that page already)."""

    _reading_cursor: Any = None

    def _patient_page(self, rows: Any, *args: Any) -> None:
        super()._patient_page(rows, *args)
        if rows[0][0] == 1001:
            cur = self._reading_cursor
            killer = OpenDental(self.url.render_as_string(hide_password=False))
            killer.run(f"KILL CONNECTION {int(cur.connection.thread_id())}")
            killer.dispose()


def test_a_connection_lost_while_a_first_read_is_written_keeps_nothing(
    sqlite_engine: Engine, od: OpenDental, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open_dental_rows, "PAGE", 2)
    before = snapshot(sqlite_engine)
    connector = _CutOffReading(od.url, TZ)
    real = open_dental_session.OpenRead.__init__

    def keep_cursor(self: Any, session: Any) -> None:
        real(self, session)
        connector._reading_cursor = self.cur

    monkeypatch.setattr(open_dental_session.OpenRead, "__init__", keep_cursor)
    failed = make_od_sync(sqlite_engine, connector).run()
    assert not failed.ok
    assert "lost the connection to the Open Dental database at 127.0.0.1:3306/" in failed.error
    assert snapshot(sqlite_engine) == before  # the first page of patients neither
    monkeypatch.undo()
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.inserted == 10


def test_a_run_with_no_change_stops_at_the_cursor(sqlite_engine: Engine, od: OpenDental) -> None:
    assert _sync(sqlite_engine, od).ok
    again = _sync(sqlite_engine, od)
    assert again.ok and again.rows_seen == 0 and "unchanged since sync" in again.note


def test_a_changed_patient_is_read_alone(sqlite_engine: Engine, od: OpenDental) -> None:
    assert _sync(sqlite_engine, od).ok
    od.run("UPDATE patient SET Email = 'bill.hart@example.com' WHERE PatNum = 1001")
    # patient.DateTStamp has no index: patients alone are looked at every
    # patient_check_seconds (or with any other change), not at every run
    assert "unchanged since sync" in _sync(sqlite_engine, od).note
    summary = _sync(sqlite_engine, od, force=True)
    assert summary.ok and summary.rows_seen == 1  # DateTStamp: only that row
    assert summary.detail["patients_updated"] == 1 and summary.updated == 1
    assert _patients(sqlite_engine)["1001"].email == "bill.hart@example.com"
    od.run("UPDATE patient SET Email = 'w.hart@example.com' WHERE PatNum = 1001")
    checked = _sync(sqlite_engine, od, patient_check_seconds=1)  # a new period: read
    assert checked.ok and _patients(sqlite_engine)["1001"].email == "w.hart@example.com"


def _linked(engine: Engine, od: OpenDental, tmp_path: Path) -> int:
    """Bill's request linked to appointment 2 (Thu 2026-12-03 09:30)."""
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r1.json", fhir_request("R1"))
    sync = make_od_sync(engine, OpenDentalConnector(od.url, TZ))
    sync.inbox = RequestInbox(inbox, TZ)
    assert sync.run().ok
    workflow = make_workflow(engine)
    with read_session(engine) as s:
        request = s.exec(select(OnlineRequest)).one()
    assert request.id is not None
    check = workflow.check(request.id)
    chosen = [c for c in check.candidates if c.appointment.pms_id == "2"]
    workflow.link(
        request.id, chosen[0].appointment.id, expected_version=check.version, send_email=False
    )
    return request.id


def _attention(engine: Engine, request_id: int) -> tuple[str, str]:
    with read_session(engine) as s:
        request = s.get(OnlineRequest, request_id)
        assert request is not None
        return request.state, request.attention


def test_a_moved_appointment_flags_its_linked_request(
    sqlite_engine: Engine, od: OpenDental, tmp_path: Path
) -> None:
    request_id = _linked(sqlite_engine, od, tmp_path)
    od.run("UPDATE appointment SET AptDateTime = '2026-12-03 11:00:00' WHERE AptNum = 2")
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.flagged == 1 and summary.detail["appointments_updated"] == 1
    assert appointments_by_pms_id(sqlite_engine)["2"].start == datetime(
        2026, 12, 3, 11, 0, tzinfo=TZ
    )
    assert _attention(sqlite_engine, request_id) == (
        RequestState.LINKED.value,
        "The linked appointment 2 on Thu 2026-12-03 09:30 was moved in the PMS to "
        "Thu 2026-12-03 11:00.",
    )


def test_a_deleted_appointment_is_cancelled_from_histappointment(
    sqlite_engine: Engine, od: OpenDental, tmp_path: Path
) -> None:
    request_id = _linked(sqlite_engine, od, tmp_path)
    od.delete_appointment(2)
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.cancelled == 1 and summary.flagged == 1
    two = appointments_by_pms_id(sqlite_engine)["2"]
    assert two.status == "cancelled" and two.start == datetime(2026, 12, 3, 9, 30, tzinfo=TZ)
    assert _attention(sqlite_engine, request_id) == (
        RequestState.LINKED.value,
        "The linked appointment 2 on Thu 2026-12-03 09:30 was cancelled in the PMS.",
    )
    # the history row is read again within the overlap, and changes nothing
    again = make_od_sync(sqlite_engine, OpenDentalConnector(od.url, TZ)).run(force=True)
    assert again.ok and again.changed is False


def test_an_appointment_known_only_to_deletedobject_is_cancelled(
    sqlite_engine: Engine, od: OpenDental
) -> None:
    assert _sync(sqlite_engine, od).ok
    od.insert("deletedobject", ObjectNum=4, ObjectType=0)
    od.run("DELETE FROM appointment WHERE AptNum = 4")  # no copy in histappointment
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.cancelled == 1
    assert appointments_by_pms_id(sqlite_engine)["4"].status == "cancelled"


def test_broken_and_hygiene_appointments(sqlite_engine: Engine, od: OpenDental) -> None:
    assert _sync(sqlite_engine, od).ok
    od.run("UPDATE appointment SET AptStatus = 5 WHERE AptNum = 2")
    od.run("UPDATE appointment SET IsHygiene = 0 WHERE AptNum = 3")  # now the dentist's
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.detail["appointments_updated"] == 2
    found, providers = appointments_by_pms_id(sqlite_engine), _providers(sqlite_engine)
    assert found["2"].status == "broken"
    assert providers[found["3"].provider_id or 0] == "1"


def test_a_patient_marked_deleted_is_skipped_and_their_appointments_cancelled(
    sqlite_engine: Engine, od: OpenDental
) -> None:
    assert _sync(sqlite_engine, od).ok
    od.run("UPDATE patient SET PatStatus = 4, LName = 'gone' WHERE PatNum = 1003")
    summary = _sync(sqlite_engine, od, force=True)
    assert summary.ok and summary.cancelled == 1
    assert appointments_by_pms_id(sqlite_engine)["4"].status == "cancelled"
    assert _patients(sqlite_engine)["1003"].last_name == "Brown"  # not updated


def test_a_row_written_in_the_same_second_as_the_read_is_not_lost(
    sqlite_engine: Engine, od: OpenDental
) -> None:
    second = od.value("SELECT NOW()")
    od.run(
        "UPDATE appointment SET ProcDescript = 'Exam, recall', DateTStamp = %s WHERE AptNum = 1",
        (second,),
    )
    assert _sync(sqlite_engine, od).ok
    # committed after the read, stamped with the second the read saw as "now"
    od.insert(
        "appointment",
        AptNum=8,
        PatNum=1002,
        AptStatus=1,
        Pattern="XXXXXX",
        Op=1,
        ProvNum=1,
        AptDateTime="2026-12-09 15:00:00",
        ProcDescript="Consult",
        DateTStamp=second,
    )
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.detail["appointments_inserted"] == 1
    assert appointments_by_pms_id(sqlite_engine)["8"].reason == "Consult"


def test_bad_rows_name_table_and_key_and_the_rest_is_imported(
    sqlite_engine: Engine, od: OpenDental
) -> None:
    values = {"PatNum": 1001, "Op": 1, "ProvNum": 1, "AptDateTime": "2026-12-10 09:00:00"}
    od.insert("appointment", AptNum=10, AptStatus=1, Pattern="", **values)
    od.insert("appointment", AptNum=11, AptStatus=0, Pattern="XX", **values)
    od.insert("appointment", AptNum=12, AptStatus=1, Pattern="XX", **{**values, "ProvNum": 99})
    od.insert("patient", PatNum=1004, LName="", FName="Nobody", Guarantor=1004)
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.problems == 4
    assert sorted(_problems(sqlite_engine, summary)) == [
        "appointment:10: Pattern is empty (no length)",
        "appointment:11: unknown AptStatus 0",
        "appointment:12: unknown provider '99'",
        "patient:1004: LName is empty",
    ]
    assert sorted(appointments_by_pms_id(sqlite_engine)) == ["1", "2", "3", "4", "7"]
    # the refused row is read again: once its provider exists, it is imported
    od.insert("provider", ProvNum=99, Abbr="NEW", FName="Nora", LName="Ng")
    later = _sync(sqlite_engine, od)
    assert later.ok and "12" in appointments_by_pms_id(sqlite_engine)


def test_one_clinic_only(sqlite_engine: Engine, od: OpenDental) -> None:
    od.run("UPDATE appointment SET ClinicNum = 2 WHERE AptNum IN (3, 4)")
    od.run("UPDATE appointment SET ClinicNum = 1 WHERE AptNum NOT IN (3, 4)")
    summary = _sync(sqlite_engine, od, clinic=1)
    assert summary.ok
    assert sorted(appointments_by_pms_id(sqlite_engine)) == ["1", "2", "7"]


class _CutOff(OpenDentalConnector):
    """Loses its connection just before reading the appointments (another session KILLs
    it, as a server restart or a network cut would)."""

    def _appointments(self, cur: Any, *args: Any) -> None:
        killer = OpenDental(self.url.render_as_string(hide_password=False))
        killer.run(f"KILL CONNECTION {int(cur.connection.thread_id())}")
        killer.dispose()
        super()._appointments(cur, *args)


def test_a_dropped_connection_fails_the_run_whole_and_the_next_succeeds(
    sqlite_engine: Engine, od: OpenDental
) -> None:
    assert _sync(sqlite_engine, od).ok
    od.run("UPDATE patient SET FName = 'Will' WHERE PatNum = 1001")
    od.run("UPDATE appointment SET AptDateTime = '2026-12-03 12:00:00' WHERE AptNum = 2")
    before = snapshot(sqlite_engine)
    failed = make_od_sync(sqlite_engine, _CutOff(od.url, TZ)).run()
    assert not failed.ok
    assert "lost the connection to the Open Dental database at 127.0.0.1:3306/" in failed.error
    assert snapshot(sqlite_engine) == before  # nothing half-written (the patient neither)
    summary = _sync(sqlite_engine, od)
    assert summary.ok and summary.updated == 2
    assert _patients(sqlite_engine)["1001"].first_name == "Will"


def test_a_user_without_select_on_histappointment_gets_a_clear_error(
    sqlite_engine: Engine, od: OpenDental
) -> None:
    database = od.url.rsplit("/", 1)[1]
    user = f"{database[-20:]}_ro"
    od.run(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'secret'")
    od.run(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'secret'")
    try:
        for host in ("%", "localhost"):
            for table in ("provider", "patient", "appointment", "operatory", "deletedobject"):
                od.run(f"GRANT SELECT ON `{database}`.{table} TO '{user}'@'{host}'")
        url = od.url.replace("root@", f"{user}@")
        summary = make_od_sync(
            sqlite_engine, OpenDentalConnector(url, TZ, password=SecretStr("secret"))
        ).run()
        assert not summary.ok
        assert f"the user '{user}' lacks SELECT on histappointment" in summary.error
        assert "Traceback" not in summary.error
        for host in ("%", "localhost"):
            od.run(f"GRANT SELECT ON `{database}`.histappointment TO '{user}'@'{host}'")
        granted = make_od_sync(
            sqlite_engine, OpenDentalConnector(url, TZ, password=SecretStr("secret"))
        ).run()
        assert granted.ok and granted.inserted == 10
    finally:
        od.run(f"DROP USER IF EXISTS '{user}'@'%'")
        od.run(f"DROP USER IF EXISTS '{user}'@'localhost'")


class _Probe(OpenDentalConnector):
    """Runs one more statement in the connector's own session before reading."""

    statement = ""

    def _providers(self, cur: Any, *args: Any) -> Any:
        cur.execute(self.statement)
        cur.fetchall()
        return super()._providers(cur, *args)


def test_the_session_is_read_only_and_has_a_statement_timeout(
    sqlite_engine: Engine, od: OpenDental
) -> None:
    writer = _Probe(od.url, TZ)
    writer.statement = "UPDATE patient SET FName = 'x' WHERE PatNum = 1001"
    failed = make_od_sync(sqlite_engine, writer).run()
    assert not failed.ok and "READ ONLY transaction" in failed.error
    assert od.value("SELECT FName FROM patient WHERE PatNum = 1001") == "William"
    slow = _Probe(od.url, TZ, timeout=1)
    slow.statement = "SELECT COUNT(*) FROM appointment a, appointment b, appointment c, " + (
        "appointment d, appointment e, appointment f, appointment g WHERE SLEEP(0.01) = 0"
    )
    stopped = make_od_sync(sqlite_engine, slow).run()
    assert not stopped.ok
    assert "took longer than 1 s and was stopped" in stopped.error
    assert _sync(sqlite_engine, od).ok


def test_an_unreachable_server_is_one_sentence(sqlite_engine: Engine) -> None:
    connector = OpenDentalConnector("mysql+pymysql://od@127.0.0.1:1/opendental", TZ, timeout=2)
    summary = make_od_sync(sqlite_engine, connector).run()
    assert not summary.ok
    assert summary.error.startswith(
        "PMS: OpenDentalError: cannot reach the Open Dental database at 127.0.0.1:1/opendental"
    )
