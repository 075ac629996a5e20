"""The audit trail on both stores: rows a person can read later, and ``audit --verify``
finding a request changed without its audit event."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.workflow.trail import audit_trail
from linker_tui.workflow.trail_check import verify_trail
from tests.builders import add_appointment, add_patient, add_provider, add_request, local
from tests.conftest import is_decision_time, make_workflow


def test_audit_rows_name_the_patient_and_the_appointment_as_they_were(engine: Engine) -> None:
    provider = add_provider(engine, "D7", "Rahul", "Patel")
    patient = add_patient(engine, "William", "Hart", preferred="Bill")
    start = local(2026, 12, 10, 14)
    appointment = add_appointment(engine, patient, provider, start)
    rid = add_request(engine, "Bill", "Hart", start, patient_id=patient)
    make_workflow(engine).link(rid, appointment, expected_version=1, send_email=False)
    (event,) = audit_trail(engine, rid)
    before, after = json.loads(event.before), json.loads(event.after)
    assert before["state"] == "pending" and before["appointment"] is None
    assert after["request"] == before["request"] and after["request"].startswith("REQ-")
    assert after["state"] == "linked" and after["version"] == 2
    assert after["patient"]["name"] == 'Hart, William "Bill"'
    assert after["patient"]["pms_id"].startswith("P")
    assert after["appointment"] == {
        "pms_id": after["appointment"]["pms_id"],
        "start": "2026-12-10T19:00:00+00:00",
        "provider": "Dr. Rahul Patel",
        "status": "scheduled",
    }
    assert after["decided_by"] == "alice@desk-1"
    assert event.desk_user == "alice" and is_decision_time(engine, event.at)
    assert verify_trail(engine).complete


def test_verify_finds_a_request_changed_without_its_audit_event(engine: Engine) -> None:
    first = add_request(engine, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
    second = add_request(engine, "Bo", "Nobody", local(2026, 12, 3, 10))
    workflow = make_workflow(engine)
    workflow.defer(first, expected_version=1)
    workflow.reject(first, "No availability", expected_version=2)
    workflow.reopen(first, expected_version=3)
    report = verify_trail(engine)
    assert report.complete and (report.requests, report.events) == (2, 3)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # the owner must switch the trigger off
            conn.exec_driver_sql("ALTER TABLE online_request DISABLE TRIGGER online_request_audit")
        conn.execute(
            sa.text("UPDATE online_request SET state = 'rejected' WHERE id = :i"), {"i": second}
        )
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE online_request ENABLE TRIGGER online_request_audit")
    (gap,) = verify_trail(engine).gaps
    assert gap.problem == "the request is rejected but has no audit event"


def test_a_change_by_hand_on_postgresql_is_audited_by_the_database(engine: Engine) -> None:
    """The owner may still change a request by hand: the trigger records it, as a
    ``direct_update`` by the database role, so the trail stays complete."""
    if engine.dialect.name != "postgresql":
        return
    rid = add_request(engine, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE online_request SET state = 'rejected', version = version + 1 WHERE id = :i"
            ),
            {"i": rid},
        )
        user = conn.execute(sa.text("SELECT session_user")).scalar_one()
    (event,) = audit_trail(engine, rid)
    assert event.action == "direct_update" and event.db_user == user
    assert json.loads(event.after)["state"] == "rejected"
    assert verify_trail(engine).complete
