"""The list's match hint for requests whose patient is not known yet: found, patients to
pick from or confirm ("Is this the same patient?" comes next), or not found, from the
ranking stored on the request (on arrival, or by the sync for requests never ranked);
and the list, the detail pane and Accept saying the same (one definition,
request_match)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Engine

from linker_tui.matching.patient_search import RANK_BATCH, rank_requests, rank_unranked
from linker_tui.matching.request_match import record_ranking
from linker_tui.read.queries import ListQuery, request_detail, request_page, rows_statement
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
from tests.sync_support import make_sync

FAMILY_PHONE = "416-555-0199"


def _hints(engine: Engine) -> dict[str, str]:
    page = request_page(engine, ListQuery(show_handled=True), 0, TZ, NOW)
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
    # Never ranked (as requests imported before the ranking on arrival): the list says
    # so rather than ranking them itself; the next sync ranks and stores them.
    assert set(_hints(engine).values()) == {"not matched yet", "exact match"}
    summary = make_sync(engine, None).run()
    assert summary.ok, summary.text()

    hints = _hints(engine)
    page = request_page(engine, ListQuery(show_handled=True), 0, TZ, NOW)
    by_row = [(row.typed_name, row.state.value, row.match_hint) for row in page.rows]
    # Jane's exact ranking attached her, as on arrival: the hint is her appointment's.
    assert by_row.count(("Jane Doe", "pending", "exact match")) == 2
    assert ("Sam Lee", "pending", "pick patient (2)") in by_row
    # Handled requests are not looked up.
    assert ("Sam Lee", "rejected", "not matched yet") in by_row
    assert hints["Nobody Known"] == "patient not found"
    assert hints["Jane Dough"] == "confirm patient"


def _detail(engine: Engine, request_id: int) -> tuple[str, str]:
    detail = request_detail(engine, request_id, TZ, NOW)
    return detail.row.match_hint, detail.patient_name or detail.patient_status


def test_list_detail_and_accept_agree_on_the_patient(engine: Engine) -> None:
    add_patient(engine, "Samuel", "Lee", date(1990, 3, 4), mobile=FAMILY_PHONE)
    add_patient(engine, "Samantha", "Lee", date(1992, 8, 9), mobile=FAMILY_PHONE)
    jane = add_patient(engine, "Jane", "Doe", date(1980, 1, 2), email="jane@example.com")
    start = local(2026, 12, 3, 9, 30)
    sam = add_request(engine, "Sam", "Lee", start, phone=FAMILY_PHONE)
    nobody = add_request(engine, "Nobody", "Known", start, birthdate=date(1970, 1, 1))
    found = add_request(engine, "Jane", "Doe", start, birthdate=date(1980, 1, 2))
    with write_session(engine) as session:  # what the sync stores for requests never ranked
        assert rank_unranked(session, "CA") == 3
    workflow = make_workflow(engine)
    for rid, words in (
        (sam, "pick patient (2)"),
        (nobody, "patient not found"),
        (found, "patient found"),
    ):
        row = {row.id: row for row in _page(engine)}[rid]
        detail = request_detail(engine, rid, TZ, NOW)
        assert row.patient_status == detail.patient_status == words
        if words != "patient found":
            assert row.match_hint == detail.row.match_hint == words
            assert detail.patient_name == ""
        else:  # attached by its exact ranking: the hint is about her appointments
            assert row.match_hint == detail.row.match_hint == "nothing scheduled"
            assert detail.patient_name == "Doe, Jane"
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
    return request_page(engine, ListQuery(show_handled=True), 0, TZ, NOW).rows


def test_the_sync_ranks_requests_never_ranked_in_batches(engine: Engine) -> None:
    """Requests imported before the ranking on arrival are ranked once, by the sync, a
    batch per transaction; ranked requests, known patients and handled requests are
    left alone."""
    add_patient(engine, "Samuel", "Lee", date(1990, 3, 4), mobile=FAMILY_PHONE)
    add_patient(engine, "Samantha", "Lee", date(1992, 8, 9), mobile=FAMILY_PHONE)
    start = local(2026, 12, 3, 9, 30)
    for _ in range(RANK_BATCH + 2):
        add_request(engine, "Sam", "Lee", start, phone=FAMILY_PHONE)
    handled = add_request(engine, "Sam", "Lee", start, state=RequestState.REJECTED)
    summary = make_sync(engine, None).run()
    assert summary.ok and summary.detail["requests_ranked"] == RANK_BATCH + 2
    assert {row.match_hint for row in _page(engine)} == {"pick patient (2)"}
    assert _detail(engine, handled)[0] == "not matched yet"
    again = make_sync(engine, None).run()
    assert "requests_ranked" not in again.detail


def test_the_duplicate_rule_reads_the_request_of_its_row_only() -> None:
    """In the page's query the "linked elsewhere" rule, two subqueries deep, is
    correlated to the row's request: it does not read every request again beside the
    other one (a cross join: 0.5 s per page at 100k requests on PostgreSQL)."""
    page = rows_statement()
    postgres = PGDialect()  # type: ignore[no-untyped-call]
    sql = " ".join(str(page.compile(dialect=postgres)).split())
    inner = sql.split("NOT (EXISTS (SELECT * FROM ")[1].split(" WHERE ")[0]
    assert inner == "online_request AS other"
