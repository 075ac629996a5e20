"""The list's match hint for requests whose patient is not known yet: found, patients to
pick from or confirm ("Is this the same patient?" comes next), or not found; and the
list, the detail pane and Accept saying the same (one definition, request_match)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from linker_tui.matching.patient_search import rank_requests
from linker_tui.matching.request_match import record_ranking
from linker_tui.read.queries import ListQuery, request_detail, request_page
from linker_tui.read.views import MatchKind, RequestRow
from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import RequestState
from linker_tui.store.models import OnlineRequest
from tests.builders import (
    NOW,
    TZ,
    add_appointment,
    add_patient,
    add_provider,
    add_request,
    local,
)
from tests.conftest import make_workflow

FAMILY_PHONE = "416-555-0199"


def _hints(engine: Engine) -> dict[str, str]:
    page = request_page(engine, ListQuery(show_handled=True), 0, TZ, NOW, "CA")
    return {row.typed_name: row.match_hint for row in page.rows}


def test_hints_for_unknown_patients_say_found_possible_or_not_found(engine: Engine) -> None:
    jane = add_patient(engine, "Jane", "Doe", date(1980, 1, 2), email="jane@example.com")
    add_patient(engine, "Samuel", "Lee", date(1990, 3, 4), mobile=FAMILY_PHONE)
    add_patient(engine, "Samantha", "Lee", date(1992, 8, 9), mobile=FAMILY_PHONE)
    add_appointment(engine, jane, None, local(2026, 12, 3, 9, 30))
    start = local(2026, 12, 3, 9, 30)
    # Jane typed her identity exactly, but the request arrived before the PMS had her.
    add_request(engine, "Jane", "Doe", start, birthdate=date(1980, 1, 2), email="jane@example.com")
    add_request(engine, "Sam", "Lee", start, phone=FAMILY_PHONE)
    add_request(engine, "Nobody", "Known", start, birthdate=date(1970, 1, 1))
    add_request(engine, "Jane", "Dough", start, birthdate=date(1980, 1, 2))  # sounds alike
    add_request(engine, "Jane", "Doe", start, patient_id=jane)
    add_request(engine, "Sam", "Lee", start, phone=FAMILY_PHONE, state=RequestState.REJECTED)

    hints = _hints(engine)
    page = request_page(engine, ListQuery(show_handled=True), 0, TZ, NOW, "CA")
    by_row = [(row.typed_name, row.state.value, row.match_hint) for row in page.rows]
    assert ("Jane Doe", "pending", "patient found") in by_row
    assert ("Jane Doe", "pending", "exact match") in by_row
    assert ("Sam Lee", "pending", "pick patient (2)") in by_row
    # Handled requests are not looked up again.
    assert ("Sam Lee", "rejected", "patient not found") in by_row
    assert hints["Nobody Known"] == "patient not found"
    assert hints["Jane Dough"] == "confirm patient"


def _detail(engine: Engine, request_id: int) -> tuple[str, str]:
    detail = request_detail(engine, request_id, TZ, NOW, "CA")
    return detail.row.match_hint, detail.patient_name or detail.patient_status


def test_list_detail_and_accept_agree_on_the_patient(engine: Engine) -> None:
    add_patient(engine, "Samuel", "Lee", date(1990, 3, 4), mobile=FAMILY_PHONE)
    add_patient(engine, "Samantha", "Lee", date(1992, 8, 9), mobile=FAMILY_PHONE)
    jane = add_patient(engine, "Jane", "Doe", date(1980, 1, 2), email="jane@example.com")
    start = local(2026, 12, 3, 9, 30)
    sam = add_request(engine, "Sam", "Lee", start, phone=FAMILY_PHONE)
    nobody = add_request(engine, "Nobody", "Known", start, birthdate=date(1970, 1, 1))
    found = add_request(engine, "Jane", "Doe", start, birthdate=date(1980, 1, 2))
    workflow = make_workflow(engine)
    for rid, words in (
        (sam, "pick patient (2)"),
        (nobody, "patient not found"),
        (found, "patient found"),
    ):
        listed = {row.id: row.match_hint for row in _page(engine)}[rid]
        hint, patient = _detail(engine, rid)
        assert listed == hint == words, (listed, hint, words)
        if words != "patient found":
            assert patient == words  # the detail pane's patient line
        check = workflow.check(rid)  # Accept ranks again: the same verdict
        assert (check.patient_id is not None) == (words == "patient found")
        assert check.possible_patients == (2 if rid == sam else 0)
    assert workflow.check(found).patient_id == jane


def test_imported_requests_carry_their_ranking(engine: Engine) -> None:
    add_patient(engine, "Samuel", "Lee", date(1990, 3, 4), mobile=FAMILY_PHONE)
    add_patient(engine, "Samantha", "Lee", date(1992, 8, 9), mobile=FAMILY_PHONE)
    rid = add_request(engine, "Sam", "Lee", local(2026, 12, 3, 9, 30), phone=FAMILY_PHONE)
    with write_session(engine) as session:
        request = session.get(OnlineRequest, rid)
        assert request is not None
        (ranking,) = rank_requests(session, [request])
        record_ranking(request, ranking)
    with read_session(engine) as session:
        stored = session.get(OnlineRequest, rid)
        assert stored is not None
        assert (stored.patient_match_level, stored.patient_match_count) == ("possible", 2)
    assert _detail(engine, rid) == ("pick patient (2)", "pick patient (2)")


def test_exact_appointment_match_needs_the_requested_provider(engine: Engine) -> None:
    doc1 = add_provider(engine, "DOC1", "Amelia", "Chen")
    doc2 = add_provider(engine, "DOC2", "Rahul", "Patel")
    jane = add_patient(engine, "Jane", "Doe", date(1980, 1, 2))
    start = local(2026, 12, 3, 9, 30)
    add_appointment(engine, jane, doc2, start)
    other_provider = add_request(engine, "Jane", "Doe", start, patient_id=jane, provider_id=doc1)
    same_provider = add_request(engine, "Jane", "Doe", start, patient_id=jane, provider_id=doc2)
    any_provider = add_request(engine, "Jane", "Doe", start, patient_id=jane)
    workflow = make_workflow(engine)
    hints = {row.id: row.match_hint for row in _page(engine)}
    for rid, exact in ((other_provider, False), (same_provider, True), (any_provider, True)):
        assert (hints[rid] == "exact match") is exact
        assert (_detail(engine, rid)[0] == "exact match") is exact
        assert (workflow.check(rid).kind is MatchKind.EXACT) is exact
    assert hints[other_provider] == "1 scheduled"


def test_a_second_request_for_a_linked_appointment_is_a_duplicate_everywhere(
    engine: Engine,
) -> None:
    """The list, the detail pane and Accept agree: a request whose exact appointment is
    already linked to another request is a duplicate, not an exact match; when that
    request is reopened, it is an exact match again."""
    jane = add_patient(engine, "Jane", "Doe", date(1980, 1, 2))
    start = local(2026, 12, 3, 9, 30)
    appointment = add_appointment(engine, jane, None, start)
    first = add_request(engine, "Jane", "Doe", start, patient_id=jane)
    second = add_request(engine, "Jane", "Doe", start, patient_id=jane)
    workflow = make_workflow(engine)
    workflow.link(first, appointment, expected_version=1, send_email=False)
    hints = {row.id: row.match_hint for row in _page(engine)}
    assert hints == {first: "linked", second: "duplicate"}
    assert _detail(engine, second)[0] == "duplicate"
    check = workflow.check(second)
    assert check.duplicate_of is not None and check.duplicate_of.request_id == first
    workflow.reopen(first, expected_version=2)
    assert {row.id: row.match_hint for row in _page(engine)}[second] == "exact match"
    assert _detail(engine, second)[0] == "exact match"
    assert workflow.check(second).duplicate_of is None


def _page(engine: Engine) -> tuple[RequestRow, ...]:
    return request_page(engine, ListQuery(show_handled=True), 0, TZ, NOW, "CA").rows
