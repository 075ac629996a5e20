"""The request inbox, and requests flagged for staff by a sync."""

from __future__ import annotations

import os
from collections.abc import Set
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.store.db import read_session
from linker_tui.store.enums import RequestState
from linker_tui.store.models import OnlineRequest, Patient
from linker_tui.sync.queries import sync_problems, sync_status
from linker_tui.workflow.decisions import Workflow
from linker_tui.workflow.errors import InvalidDecision, StaleRequest
from linker_tui.workflow.trail import audit_trail
from tests.builders import NOW
from tests.conftest import is_decision_time, make_workflow
from tests.sync_support import (
    ExportData,
    appointment,
    appointments_by_pms_id,
    drop_request,
    fhir_request,
    make_sync,
    patient,
    sample,
)


def _request(engine: Engine, external_id: str) -> OnlineRequest:
    with read_session(engine) as s:
        return s.exec(select(OnlineRequest).where(OnlineRequest.external_id == external_id)).one()


# ------------------------------------------------------------------ inbox


def test_inbox_imports_files_moves_them_and_rejects_bad_ones(
    engine: Engine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r1.json", fhir_request("R1"))
    drop_request(inbox, "r1-again.json", fhir_request("R1"))  # same request id twice
    drop_request(inbox, "r2.json", fhir_request("R2", "Ava", "Brown"))
    drop_request(inbox, "broken.json", "{not json")
    drop_request(inbox, "booked.json", fhir_request("R3", status="booked"))
    drop_request(inbox, "notes.txt", "not a request")
    sync = make_sync(engine, sample().write(tmp_path / "export"), inbox)
    summary = sync.run()
    assert summary.ok and summary.requests_imported == 2
    assert summary.detail["requests_duplicate"] == 1 and summary.detail["requests_rejected"] == 2
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [
        "r1-again.json",
        "r1.json",
        "r2.json",
    ]
    rejected = inbox / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [
        "booked.json",
        "booked.json.reason.txt",
        "broken.json",
        "broken.json.reason.txt",
    ]
    assert "expected 'proposed'" in (rejected / "booked.json.reason.txt").read_text("utf-8")
    assert (inbox / "notes.txt").exists()  # not a request file: left alone
    assert summary.run_id is not None
    problems = sync_problems(engine, summary.run_id)
    assert [(p.source, p.file) for p in problems] == [
        ("inbox", "booked.json"),
        ("inbox", "broken.json"),
    ]
    request = _request(engine, "R1")
    with read_session(engine) as s:
        bill = s.exec(select(Patient).where(Patient.pms_id == "1001")).one()
    assert request.patient_id == bill.id and request.requested_duration_min == 60
    # the same request arrives again later: imported once, the copy filed as processed
    drop_request(inbox, "r1.json", fhir_request("R1"))
    again = sync.run()
    assert again.requests_imported == 0 and again.detail["requests_duplicate"] == 1
    assert (inbox / "processed" / "r1-2.json").exists() and not (inbox / "r1.json").exists()


def test_a_file_being_written_is_left_for_the_next_run(engine: Engine, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    drop_request(inbox, "half.json", '{"resourceType": "Appoint', age=0)
    summary = make_sync(engine, None, inbox).run()
    assert summary.ok and summary.detail["requests_waiting_files"] == 1
    assert (inbox / "half.json").exists() and not list((inbox / "rejected").iterdir())
    assert "no PMS export folder" in summary.note


def test_inbox_import_is_kept_when_moving_fails_and_retried(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r1.json", fhir_request("R1"))

    def refuse(_src: object, _dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)  # the inbox moves files with os.replace
    sync = make_sync(engine, None, inbox)
    first = sync.run()
    assert first.requests_imported == 1 and not first.ok and "cannot move" in first.error
    monkeypatch.undo()
    second = sync.run()
    assert second.ok and second.requests_imported == 0
    assert (inbox / "processed" / "r1.json").exists()


# ------------------------------------------------------------------ flags


def _linked(engine: Engine, tmp_path: Path) -> tuple[Workflow, int]:
    """Bill's request R1 linked to A2 (Thu 2026-12-03 09:30)."""
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r1.json", fhir_request("R1"))
    make_sync(engine, sample().write(tmp_path / "export"), inbox).run()
    workflow = make_workflow(engine)
    request = _request(engine, "R1")
    assert request.id is not None
    check = workflow.check(request.id)
    workflow.link(
        request.id,
        check.candidates[0].appointment.id,
        expected_version=check.version,
        send_email=False,
    )
    return workflow, request.id


@pytest.mark.parametrize("change", ["cancelled", "vanished", "moved"])
def test_a_linked_request_whose_appointment_changes_is_flagged(
    engine: Engine, tmp_path: Path, change: str
) -> None:
    workflow, request_id = _linked(engine, tmp_path)
    before = _request(engine, "R1")
    data = sample()
    if change == "cancelled":
        data.appointments[1][7] = "Canceled"  # the PMS's spelling
    elif change == "vanished":
        del data.appointments[1]
    else:
        data.appointments[1][3] = "2026-12-03T11:00"
    summary = make_sync(engine, data.write(tmp_path / "export")).run()
    assert summary.ok and summary.flagged == 1
    after = _request(engine, "R1")
    assert after.state == RequestState.LINKED.value  # never silently changed
    assert after.linked_appointment_id == before.linked_appointment_id
    assert after.version == before.version + 1
    expected = {
        "cancelled": "The linked appointment A2 on Thu 2026-12-03 09:30 was cancelled in the PMS.",
        "vanished": "The linked appointment A2 on Thu 2026-12-03 09:30 is no longer in the PMS "
        "export (deleted there?): it counts as cancelled.",
        "moved": "The linked appointment A2 on Thu 2026-12-03 09:30 was moved in the PMS to "
        "Thu 2026-12-03 11:00.",
    }[change]
    assert after.attention == expected and is_decision_time(engine, after.attention_at)
    event = audit_trail(engine, request_id)[-1]
    # the system's action, with the desk that ran the sync as detail
    assert event.action == "attention" and event.desk_user == "system"
    assert event.detail == f"{expected} (found by the sync on sync@desk-1)"
    assert (event.os_user, event.workstation) == ("sync", "desk-1")
    # a second run does not flag it again
    again = make_sync(engine, tmp_path / "export").run(force=True)
    assert again.flagged == 0 and _request(engine, "R1").version == after.version
    status = sync_status(engine, NOW)
    assert status.attention == 1 and status.last_run is not None and not status.failing
    # staff saw it: the flag goes, audited; a decision made before is refused (look again)
    with pytest.raises(StaleRequest):
        workflow.reopen(request_id, expected_version=before.version)
    version = workflow.dismiss_attention(request_id, expected_version=after.version)
    assert _request(engine, "R1").attention == ""
    assert audit_trail(engine, request_id)[-1].action == "attention_seen"
    with pytest.raises(InvalidDecision):
        workflow.dismiss_attention(request_id, expected_version=version)


def test_reopening_a_flagged_request_clears_the_flag(engine: Engine, tmp_path: Path) -> None:
    workflow, request_id = _linked(engine, tmp_path)
    data = sample()
    data.appointments[1][7] = "cancelled"
    make_sync(engine, data.write(tmp_path / "export")).run()
    flagged = _request(engine, "R1")
    assert flagged.attention
    workflow.reopen(request_id, expected_version=flagged.version)
    reopened = _request(engine, "R1")
    assert reopened.state == "pending" and reopened.attention == ""
    assert reopened.attention_at is None


def test_a_waiting_request_is_flagged_when_its_appointment_arrives(
    engine: Engine, tmp_path: Path
) -> None:
    data = sample()
    data.appointments = [a for a in data.appointments if a[1] != "1001"]  # Bill: nothing booked
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r1.json", fhir_request("R1"))
    # someone not (yet) a patient of the practice
    drop_request(inbox, "r2.json", fhir_request("R2", "Noor", "Haddad"))
    folder = data.write(tmp_path / "export")
    make_sync(engine, folder, inbox).run()
    workflow = make_workflow(engine)
    for rid in ("R1", "R2"):
        request = _request(engine, rid)
        assert request.id is not None
        workflow.defer(request.id, expected_version=request.version)
    waiting = _request(engine, "R1")
    assert waiting.state == "waiting_pms"
    # an unrelated change: nothing flagged
    data.appointments[0][6] = "Crown seat"
    assert make_sync(engine, data.write(folder)).run().flagged == 0
    # the receptionist books Bill, and registers Noor with an appointment
    data.appointments.append(appointment("A9", "1001", "2026-12-03T09:30"))
    data.patients.append(patient("1009", "Noor", "Haddad", email="noor@example.com"))
    data.appointments.append(appointment("A10", "1009", "2026-12-08T15:00"))
    summary = make_sync(engine, data.write(folder)).run()
    assert summary.ok and summary.flagged == 2
    bill = _request(engine, "R1")
    assert bill.state == "waiting_pms" and bill.version == waiting.version + 1
    assert bill.attention == (
        "The PMS now has an appointment for this patient: Thu 2026-12-03 09:30 (A9)."
    )
    noor = _request(engine, "R2")
    assert noor.attention.endswith("Tue 2026-12-08 15:00 (A10).")
    assert noor.patient_id is None  # the match is offered on Accept, not written by the sync
    assert sync_status(engine, NOW).waiting == 2
    # linking clears the flag
    assert bill.id is not None
    check = workflow.check(bill.id)
    appointment_id = appointments_by_pms_id(engine)["A9"].id
    assert appointment_id is not None and check.candidates[0].appointment.id == appointment_id
    workflow.link(bill.id, appointment_id, expected_version=check.version, send_email=False)
    assert _request(engine, "R1").attention == ""
    assert summary.detail["appointments_inserted"] == 2


def _bill_waiting(engine: Engine, tmp_path: Path, data: ExportData) -> Path:
    """Bill's request R1 imported with the export ``data`` (written to a folder, which
    is returned) and sent to wait for the PMS."""
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r1.json", fhir_request("R1"))
    folder = data.write(tmp_path / "export")
    make_sync(engine, folder, inbox).run()
    request = _request(engine, "R1")
    assert request.id is not None
    make_workflow(engine).defer(request.id, expected_version=request.version)
    return folder


def _flagged_waiting(engine: Engine, tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """Bill's request waits for the PMS; the PMS books him (A9 and A11): "can link now"."""
    data = sample()
    data.appointments = [a for a in data.appointments if a[1] != "1001"]  # Bill: nothing booked
    folder = _bill_waiting(engine, tmp_path, data)
    data.appointments.append(appointment("A9", "1001", "2026-12-03T09:30"))
    data.appointments.append(appointment("A11", "1001", "2026-12-09T09:30"))
    assert make_sync(engine, data.write(folder)).run().flagged == 1
    assert _request(engine, "R1").attention.startswith("The PMS now has 2 appointments")
    return folder, data.appointments


def test_a_can_link_now_flag_follows_the_appointments_it_names(
    engine: Engine, tmp_path: Path
) -> None:
    """The PMS cancels one of Bill's appointments, moves the other, then removes it: the
    flag says what is left, then is cleared (audited); the request stays waiting."""
    folder, rows = _flagged_waiting(engine, tmp_path)
    data = sample()
    data.appointments = rows
    rows[-2][7] = "cancelled"  # A9
    summary = make_sync(engine, data.write(folder)).run()
    assert summary.ok and summary.flagged == 1
    assert _request(engine, "R1").attention == (
        "The PMS now has an appointment for this patient: Wed 2026-12-09 09:30 (A11)."
    )
    rows[-1][3] = "2026-12-10T08:00"  # A11 moved
    assert make_sync(engine, data.write(folder)).run().flagged == 1
    assert _request(engine, "R1").attention.endswith("Thu 2026-12-10 08:00 (A11).")
    data.appointments = rows[:-1]  # A11 gone from the export: cancelled
    summary = make_sync(engine, data.write(folder)).run()
    assert summary.ok and summary.detail["attention_cleared"] == 1
    request = _request(engine, "R1")
    assert request.attention == "" and request.state == "waiting_pms"
    assert appointments_by_pms_id(engine)["A11"].status == "cancelled"
    assert request.id is not None
    last = audit_trail(engine, request.id)[-1]
    assert last.action == "attention" and "Flag cleared" in last.detail
    # the next run changes nothing more
    again = make_sync(engine, data.write(folder)).run()
    assert again.flagged == 0 and again.detail["attention_cleared"] == 0


def test_an_unrelated_change_keeps_a_can_link_now_flag(engine: Engine, tmp_path: Path) -> None:
    folder, rows = _flagged_waiting(engine, tmp_path)
    before = _request(engine, "R1")
    data = sample()
    data.appointments = rows
    rows[0][6] = "Crown seat"  # someone else's appointment
    summary = make_sync(engine, data.write(folder)).run()
    assert summary.ok and summary.flagged == 0 and summary.detail["attention_cleared"] == 0
    after = _request(engine, "R1")
    assert (after.attention, after.version) == (before.attention, before.version)


# ------------------------------------------------------------------ matching on import


@pytest.mark.parametrize("nameless", ["", "?", "-", "."])
def test_a_patient_without_a_usable_first_name_never_blocks_the_import(
    engine: Engine, tmp_path: Path, nameless: str
) -> None:
    data = sample()
    # Candidates of every request below: same surname, birth date, email, or the
    # typed first name as surname (the swapped-names comparison).
    data.patients += [
        patient("2001", nameless, "Hart", "1975-01-01", email="hart@example.com"),
        patient("2002", nameless, "Ava", "2001-05-06"),
        patient("2003", nameless, "Brown", "2001-05-06", email="ava@example.com"),
    ]
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r1.json", fhir_request("R1"))
    drop_request(inbox, "r2.json", fhir_request("R2", "Ava", "Brown"))
    drop_request(inbox, "r3.json", fhir_request("R3", "Brown", "Ava"))
    summary = make_sync(engine, data.write(tmp_path / "export"), inbox).run()
    assert summary.ok and summary.requests_imported == 3
    assert summary.run_id is not None and sync_problems(engine, summary.run_id) == []
    with read_session(engine) as s:
        ids = {p.pms_id: p.id for p in s.exec(select(Patient)).all()}
    assert _request(engine, "R1").patient_id == ids["1001"]


def test_a_request_whose_matching_fails_is_reported_and_the_others_imported(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import linker_tui.matching as matching
    import linker_tui.matching.patient_search as search

    real = matching.rank_patients  # what the search module imported

    def failing(typed: object, *args: object, **kwargs: object) -> object:
        if getattr(typed, "first_name", "") == "Ava":
            raise IndexError("string index out of range")
        return real(typed, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search, "rank_patients", failing)
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r1.json", fhir_request("R1"))
    drop_request(inbox, "r2.json", fhir_request("R2", "Ava", "Brown"))
    summary = make_sync(engine, sample().write(tmp_path / "export"), inbox).run()
    assert summary.ok and summary.requests_imported == 2
    assert summary.run_id is not None
    problems = sync_problems(engine, summary.run_id)
    assert [(p.source, p.file) for p in problems] == [("inbox", "r2.json")]
    assert "patient not matched: IndexError" in problems[0].reason
    assert _request(engine, "R2").patient_id is None
    assert _request(engine, "R1").patient_id is not None
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["r1.json", "r2.json"]


def test_a_waiting_request_is_flagged_by_a_big_first_import_of_appointments(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appointments streamed into an empty table (a first import): every stored one was
    written by the run, without a list of their ids; the waiting request is flagged."""
    from linker_tui.sync import appointment_writer
    from linker_tui.sync.csv_changes import FileReader

    data = sample()
    booked = data.appointments
    data.appointments = []  # the PMS's patients first, no appointment yet
    folder = _bill_waiting(engine, tmp_path, data)
    monkeypatch.setattr(FileReader, "stream_over", 2)  # read while written
    modes: list[bool] = []
    made: list[appointment_writer.WrittenIds] = []

    class Spied(appointment_writer.WrittenIds):
        def __init__(self, *, every_stored: bool = False, watched: Set[int] | None = None) -> None:
            super().__init__(every_stored=every_stored, watched=watched)
            modes.append(every_stored)
            made.append(self)

    monkeypatch.setattr(appointment_writer, "WrittenIds", Spied)
    data.appointments = [*booked, appointment("A9", "1001", "2026-12-03T09:30")]
    summary = make_sync(engine, data.write(folder)).run()
    assert summary.ok and summary.flagged == 1 and True in modes
    bill = _request(engine, "R1").attention
    assert bill.startswith("The PMS now has") and "(A" in bill
    # a big run into a table that is not empty: only the ids it wrote count
    modes.clear()
    others = [row for row in data.appointments if row[1] != "1001"]
    for row in others[:3]:
        row[6] = "Crown seat"
    again = make_sync(engine, data.write(folder)).run()
    assert again.ok and again.updated == 3 and again.flagged == 0 and modes == [False]
    assert len(made[-1]._hashes) == 0  # none of the three is the waiting patient's: not kept


def test_written_ids_asked_about_then_added_to_are_all_found() -> None:
    """The ids' hashes are sorted in place when first asked about (no copy of them); more
    added afterwards are found too. Watching some patients, only their appointments'
    ids are kept; another patient's appointment counts as written (not asked about but
    in a race: a request set waiting while the run went on)."""
    from linker_tui.sync.appointment_writer import WrittenIds

    written = WrittenIds()
    written.add(["A2", "A1"], [7, 8])
    assert written.has("A1", 8) and not written.has("A3", 7)
    written.add(["A3"], [9])  # (the sorted view let go: the hashes grow)
    assert all(written.has(pms_id, 7) for pms_id in ("A1", "A2", "A3"))
    assert not written.has("A4", 7)
    watching = WrittenIds(watched=frozenset({7}))
    watching.add(["A1", "A2", "A3"], [7, 8, 7])
    assert watching.has("A1", 7) and watching.has("A3", 7) and not watching.has("A2", 7)
    assert len(watching._hashes) == 2  # (A2, another patient's: not kept)
    assert watching.has("A9", 8) and bool(watching)
    nobody = WrittenIds(watched=frozenset())
    nobody.add(["A1"], [7])
    assert bool(nobody) and len(nobody._hashes) == 0
