"""Workflow transitions, refusals and rollback, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.mail.compose import calendar_entry
from linker_tui.matching import Difference
from linker_tui.read.views import MatchKind
from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import AppointmentStatus, OutboxStatus
from linker_tui.store.models import AuditEvent, EmailOutbox, OnlineRequest
from linker_tui.workflow.decisions import Workflow
from linker_tui.workflow.errors import AppointmentUnavailable, InvalidDecision, StaleRequest
from linker_tui.workflow.practice import format_local
from linker_tui.workflow.trail import audit_trail
from tests.builders import (
    TZ,
    add_appointment,
    add_patient,
    add_provider,
    add_request,
    dump,
    local,
)
from tests.conftest import is_decision_time, make_workflow


@pytest.fixture
def practice(engine: Engine) -> dict[str, int]:
    """Two providers, a patient with three scheduled and two unusable appointments."""
    chen = add_provider(engine, "DOC1", "Amelia", "Chen")
    patel = add_provider(engine, "DOC2", "Rahul", "Patel")
    bill = add_patient(
        engine, "William", "Hart", date(1980, 4, 2), email="bill@example.com", preferred="Bill"
    )
    return {
        "chen": chen,
        "patel": patel,
        "bill": bill,
        "exact": add_appointment(engine, bill, chen, local(2026, 12, 3, 9, 30)),
        "later": add_appointment(engine, bill, patel, local(2026, 12, 10, 14, 0)),
        "sameday": add_appointment(engine, bill, patel, local(2026, 12, 3, 11, 0)),
        "cancelled": add_appointment(
            engine, bill, chen, local(2026, 12, 4, 9, 30), status=AppointmentStatus.CANCELLED
        ),
        "past": add_appointment(
            engine, bill, chen, local(2026, 11, 2, 9, 30), status=AppointmentStatus.COMPLETED
        ),
    }


def test_exact_match_is_offered_first(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(
        engine,
        "Bill",
        "Hart",
        local(2026, 12, 3, 9, 30),
        patient_id=practice["bill"],
        provider_id=practice["chen"],
    )
    check = workflow.check(rid)
    assert check.kind is MatchKind.EXACT
    assert check.exact_candidate is not None
    assert check.exact_candidate.appointment.id == practice["exact"]
    offered = [c.appointment.id for c in check.candidates]
    assert offered == [practice["exact"], practice["sameday"], practice["later"]]
    assert practice["cancelled"] not in offered and practice["past"] not in offered


def test_partial_match_lists_all_scheduled_closest_first_with_differences(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(
        engine,
        "Bill",
        "Hart",
        local(2026, 12, 4, 9, 30),
        patient_id=practice["bill"],
        provider_id=practice["chen"],
    )
    check = workflow.check(rid)
    assert check.kind is MatchKind.PARTIAL
    assert [c.appointment.id for c in check.candidates] == [
        practice["sameday"],
        practice["exact"],
        practice["later"],
    ]
    by_id = {c.appointment.id: c.differences for c in check.candidates}
    assert by_id[practice["exact"]] == {Difference.DATE}
    assert by_id[practice["sameday"]] == {Difference.DATE, Difference.TIME, Difference.PROVIDER}


def test_same_time_other_provider_is_partial(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(
        engine,
        "Bill",
        "Hart",
        local(2026, 12, 3, 9, 30),
        patient_id=practice["bill"],
        provider_id=practice["patel"],
    )
    check = workflow.check(rid)
    assert check.kind is MatchKind.PARTIAL
    assert check.candidates[0].appointment.id == practice["exact"]
    assert check.candidates[0].differences == {Difference.PROVIDER}


def test_no_match_for_unknown_person_and_for_patient_without_appointments(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    stranger = add_request(engine, "Nobody", "Known", local(2026, 12, 3, 9, 30))
    check = workflow.check(stranger)
    assert check.kind is MatchKind.NONE and check.patient_id is None
    assert "no patient" in check.explanation
    lonely = add_patient(engine, "Ann", "Lone", date(1990, 1, 1))
    rid = add_request(engine, "Ann", "Lone", local(2026, 12, 3, 9), patient_id=lonely)
    check = workflow.check(rid)
    assert check.kind is MatchKind.NONE and check.patient_id == lonely


def test_unmatched_request_finds_patient_at_accept_time(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(engine, "bill", "HART", local(2026, 12, 3, 9, 30), birthdate=date(1980, 4, 2))
    check = workflow.check(rid)
    assert check.patient_id == practice["bill"]
    assert check.kind is MatchKind.PARTIAL or check.kind is MatchKind.EXACT
    result = workflow.link(rid, practice["exact"], expected_version=check.version, send_email=False)
    assert result.appointment.id == practice["exact"]


def test_link_writes_state_audit_and_outbox_in_one_go(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(
        engine,
        "Bill",
        "Hart",
        local(2026, 12, 4, 9, 30),
        patient_id=practice["bill"],
        provider_id=practice["chen"],
    )
    check = workflow.check(rid)
    result = workflow.link(rid, practice["later"], expected_version=check.version, send_email=True)
    assert result.outbox_id is not None
    with read_session(engine) as s:
        request = s.get(OnlineRequest, rid)
        assert request is not None
        assert request.state == "linked"
        assert request.linked_appointment_id == practice["later"]
        assert request.decided_by == "alice@desk-1"
        assert request.decided_at is not None and request.decided_at.tzinfo is not None
        email = s.get(EmailOutbox, result.outbox_id)
        assert email is not None and email.to_address == "bill@example.com"
        # the email shows the scheduled appointment, never the requested one
        assert "Thursday, December 10, 2026 at 2:00 PM" in email.body_text
        assert "Dr. Rahul Patel" in email.body_text
        assert "Friday, December 4, 2026 at 9:30 AM" in email.body_text  # as "you asked for"
        assert "Thursday, December 10" in email.subject
    (event,) = audit_trail(engine, rid)
    assert event.action == "link" and event.os_user == "alice" and event.workstation == "desk-1"
    assert '"state": "pending"' in event.before and '"state": "linked"' in event.after
    assert "requested Fri 2026-12-04 09:30 Dr. Amelia Chen" in event.detail
    assert "scheduled Thu 2026-12-10 14:00 Dr. Rahul Patel" in event.detail
    assert event.at.tzinfo is not None


def test_link_refused_when_request_changed_meanwhile(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    check = workflow.check(rid)
    other = make_workflow(engine, "bob", "desk-2")
    other.link(rid, practice["exact"], expected_version=check.version, send_email=False)
    before = dump(engine)
    with read_session(engine) as s:
        decided = s.get(OnlineRequest, rid)
        assert decided is not None and is_decision_time(engine, decided.decided_at)
        when = format_local(decided.decided_at, TZ)  # the server's time on PostgreSQL
    with pytest.raises(StaleRequest, match=rf"already linked by bob@desk-2 at {when}\."):
        workflow.link(rid, practice["later"], expected_version=check.version, send_email=True)
    assert dump(engine) == before


def test_link_refused_when_sync_cancelled_the_appointment(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    check = workflow.check(rid)
    with write_session(engine) as s:
        s.execute(
            sa.text("UPDATE appointment SET status='cancelled' WHERE id=:i"),
            {"i": practice["exact"]},
        )
    before = dump(engine)
    with pytest.raises(AppointmentUnavailable, match="now cancelled in the PMS"):
        workflow.link(rid, practice["exact"], expected_version=check.version, send_email=True)
    assert dump(engine) == before


def test_one_appointment_is_never_linked_to_two_requests(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    first = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    second = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    workflow.link(first, practice["exact"], expected_version=1, send_email=False)
    before = dump(engine)
    with pytest.raises(AppointmentUnavailable, match="already linked to request"):
        workflow.link(second, practice["exact"], expected_version=1, send_email=False)
    assert dump(engine) == before


def test_link_refuses_another_patients_appointment(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    other = add_patient(engine, "Other", "Person", date(1970, 1, 1))
    theirs = add_appointment(engine, other, practice["chen"], local(2026, 12, 5, 9))
    rid = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    with pytest.raises(AppointmentUnavailable, match="another patient"):
        workflow.link(rid, theirs, expected_version=1, send_email=False)


def test_failure_inside_the_decision_rolls_everything_back(
    engine: Engine, workflow: Workflow, practice: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    before = dump(engine)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("template exploded")

    monkeypatch.setattr("linker_tui.workflow.confirmation.compose_confirmation", broken)
    with pytest.raises(RuntimeError):
        workflow.link(rid, practice["exact"], expected_version=1, send_email=True)
    assert dump(engine) == before


def test_defer_reject_reopen(engine: Engine, workflow: Workflow, practice: dict[str, int]) -> None:
    rid = add_request(engine, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
    workflow.defer(rid, expected_version=1)
    with read_session(engine) as s:
        assert s.get(OnlineRequest, rid).state == "waiting_pms"  # type: ignore[union-attr]
    with pytest.raises(InvalidDecision, match="reason"):
        workflow.reject(rid, "   ", expected_version=2)
    workflow.reject(rid, "Not a patient of this practice", expected_version=2)
    with pytest.raises(InvalidDecision, match=r"already rejected \(Not a patient"):
        workflow.check(rid)
    assert workflow.reopen(rid, expected_version=3).withdrawn == 0
    with read_session(engine) as s:
        request = s.get(OnlineRequest, rid)
        assert request is not None and request.state == "pending" and request.reject_reason == ""
    assert [e.action for e in audit_trail(engine, rid)] == ["defer", "reject", "reopen"]
    with pytest.raises(InvalidDecision, match="still open"):
        workflow.reopen(rid, expected_version=4)


def test_reopen_withdraws_a_queued_email(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    result = workflow.link(rid, practice["exact"], expected_version=1, send_email=True)
    assert workflow.reopen(rid, expected_version=2).withdrawn == 1
    with read_session(engine) as s:
        assert s.get(EmailOutbox, result.outbox_id).status == "cancelled"  # type: ignore[union-attr]
        request = s.get(OnlineRequest, rid)
        assert request is not None and request.linked_appointment_id is None
    # the appointment is free again
    workflow.link(rid, practice["exact"], expected_version=3, send_email=False)


def test_email_plan_respects_preferences(engine: Engine, workflow: Workflow) -> None:
    doc = add_provider(engine, "D9", "Zed", "Doc")
    optout = add_patient(engine, "Olga", "Out", email="olga@example.com", no_email=True)
    noaddr = add_patient(engine, "Nina", "Noaddr")
    a1 = add_appointment(engine, optout, doc, local(2026, 12, 3, 9))
    a2 = add_appointment(engine, noaddr, doc, local(2026, 12, 3, 10))
    r1 = add_request(engine, "Olga", "Out", local(2026, 12, 3, 9), patient_id=optout)
    r2 = add_request(engine, "Nina", "Noaddr", local(2026, 12, 3, 10), patient_id=noaddr)
    plan = workflow.email_plan(a1, r1)
    assert plan.possible and not plan.send_by_default and "asked not to be emailed" in plan.note
    plan = workflow.email_plan(a2, r2)
    assert not plan.possible and "no email address" in plan.note
    result = workflow.link(r2, a2, expected_version=1, send_email=True)
    assert result.outbox_id is None
    assert "no email address" in audit_trail(engine, r2)[0].detail


def test_reject_warning_lists_scheduled_appointments(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(engine, "Bill", "Hart", local(2026, 12, 20, 9), patient_id=practice["bill"])
    assert len(workflow.scheduled_for_request(rid)) == 3


def test_audit_trail_is_append_only(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    rid = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    workflow.defer(rid, expected_version=1)
    for statement in ("UPDATE audit_event SET detail='x'", "DELETE FROM audit_event"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):  # noqa: SIM117
            with write_session(engine) as s:
                s.execute(sa.text(statement))
    with read_session(engine) as s:
        assert len(s.exec(select(AuditEvent)).all()) == 1


def _external_id(engine: Engine, rid: int) -> str:
    with read_session(engine) as s:
        request = s.get(OnlineRequest, rid)
        assert request is not None
        return request.external_id


def test_a_second_request_for_a_linked_appointment_is_closed_as_a_duplicate(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    """Offered as a duplicate of the earlier request (who linked it and when), not as an
    exact match refused at the last step; closing it is one decision with its audit row,
    no email, the earlier request untouched."""
    asked = local(2026, 12, 3, 9, 30)
    first = add_request(engine, "Bill", "Hart", asked, patient_id=practice["bill"])
    second = add_request(engine, "Bill", "Hart", asked, patient_id=practice["bill"])
    workflow.link(first, practice["exact"], expected_version=1, send_email=True)
    check = workflow.check(second)
    assert check.kind is MatchKind.EXACT and check.duplicate_of is not None
    assert check.duplicate_of.request_id == first
    assert check.duplicate_of.external_id == _external_id(engine, first)
    assert check.duplicate_of.decided_by == "alice@desk-1"
    assert check.duplicate_of.decided_at is not None
    assert [c.linked_to is not None for c in check.candidates] == [True, False, False]
    with read_session(engine) as s:
        earlier = s.get(OnlineRequest, first)
        assert earlier is not None
        earlier_rows = sorted(earlier.model_dump().items())
    reason = workflow.close_duplicate(second, first, expected_version=check.version)
    assert reason == f"Duplicate of {_external_id(engine, first)}"
    with read_session(engine) as s:
        closed = s.get(OnlineRequest, second)
        assert closed is not None
        assert (closed.state, closed.reject_reason) == ("rejected", reason)
        assert closed.linked_appointment_id is None and closed.version == 2
        outbox = s.exec(select(EmailOutbox).where(EmailOutbox.request_id == second)).all()
        assert outbox == []  # no message to the patient
        again = s.get(OnlineRequest, first)
        assert again is not None and sorted(again.model_dump().items()) == earlier_rows
    (event,) = audit_trail(engine, second)
    assert event.action == "reject"
    assert event.detail.startswith(f"closed as a duplicate of {_external_id(engine, first)}")
    assert "no message to the patient" in event.detail


def test_close_as_duplicate_is_refused_when_the_earlier_request_was_reopened(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    asked = local(2026, 12, 3, 9, 30)
    first = add_request(engine, "Bill", "Hart", asked, patient_id=practice["bill"])
    second = add_request(engine, "Bill", "Hart", asked, patient_id=practice["bill"])
    workflow.link(first, practice["exact"], expected_version=1, send_email=False)
    workflow.reopen(first, expected_version=2)
    before = dump(engine)
    with pytest.raises(InvalidDecision, match="no longer linked"):
        workflow.close_duplicate(second, first, expected_version=1)
    assert dump(engine) == before
    assert workflow.check(second).duplicate_of is None  # a plain exact match again


def _mark_sent(engine: Engine, outbox_id: int) -> None:
    with write_session(engine) as s:
        email = s.get(EmailOutbox, outbox_id)
        assert email is not None
        email.status, email.sent_at = OutboxStatus.SENT, local(2026, 12, 1, 10, 0)
        s.add(email)


def test_relinking_after_the_confirmation_was_sent_queues_a_correction(
    engine: Engine, workflow: Workflow, practice: dict[str, int]
) -> None:
    """Linked, emailed, reopened, linked to another time: the email prompt's plan names the
    confirmation the patient has; the link queues a correction (same calendar UID, higher
    SEQUENCE) in the same decision as the link and its audit row."""
    rid = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    assert workflow.email_plan(practice["exact"], rid).replaces == ""  # nothing sent yet
    first = workflow.link(rid, practice["exact"], expected_version=1, send_email=True)
    assert first.outbox_id is not None
    _mark_sent(engine, first.outbox_id)
    workflow.reopen(rid, expected_version=2)
    plan = workflow.email_plan(practice["later"], rid)
    assert plan.replaces == (
        "Thu 2026-12-03 09:30, sent to bill@example.com on Tue 2026-12-01 10:00"
    )
    check = workflow.check(rid)
    second = workflow.link(rid, practice["later"], expected_version=check.version, send_email=True)
    assert second.outbox_id is not None
    with read_session(engine) as s:
        old, new = (s.get(EmailOutbox, i) for i in (first.outbox_id, second.outbox_id))
        assert old is not None and new is not None
        assert old.status == "sent"  # stays sent
        assert new.subject.startswith("Correction: your appointment at")
        assert "Thursday, December 10, 2026 at 2:00 PM" in new.subject
        assert "replaces our earlier confirmation, which gave Thursday, December 3, 2026" in (
            " ".join(new.body_text.split())
        )
        was, now = calendar_entry(old.ics), calendar_entry(new.ics)
        assert was is not None and now is not None
        assert now.uid == was.uid and now.sequence == was.sequence + 1
        assert now.start == local(2026, 12, 10, 14, 0)
    link_event = audit_trail(engine, rid)[-1]
    assert link_event.action == "link"
    assert "correction email queued (replaces the confirmation of Thu 2026-12-03 09:30" in (
        link_event.detail
    )


def test_a_correction_that_fails_leaves_the_database_as_it_was(
    engine: Engine, workflow: Workflow, practice: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = add_request(
        engine, "Bill", "Hart", local(2026, 12, 3, 9, 30), patient_id=practice["bill"]
    )
    first = workflow.link(rid, practice["exact"], expected_version=1, send_email=True)
    assert first.outbox_id is not None
    _mark_sent(engine, first.outbox_id)
    workflow.reopen(rid, expected_version=2)
    before = dump(engine)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("template exploded")

    monkeypatch.setattr("linker_tui.workflow.confirmation.compose_confirmation", broken)
    with pytest.raises(RuntimeError):
        workflow.link(rid, practice["later"], expected_version=3, send_email=True)
    assert dump(engine) == before
