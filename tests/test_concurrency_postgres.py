"""Several workstations deciding the same requests at the same moment, on the real
PostgreSQL: separate PROCESSES (each its own engine and connection pool), released
together by a barrier, round after round.

Every round has two pending requests of one patient and one appointment of hers; the
four "desks" fire at once: desk 0 links request A to the appointment, desk 1 links
request B to the same appointment, desk 2 rejects A, desk 3 rejects B. Whatever the
interleaving: each request gets exactly one decision, the appointment is linked to at
most one request, and every loser is told who decided and when.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.store.db import make_engine, read_session
from linker_tui.store.enums import RequestState
from linker_tui.store.models import AuditEvent, OnlineRequest
from linker_tui.store.schema import create_schema, drop_schema
from linker_tui.workflow.errors import AppointmentUnavailable, InvalidDecision, StaleRequest
from tests.builders import add_appointment, add_patient, add_provider, add_request, local
from tests.conftest import POSTGRES_URL, make_workflow

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="LINKER_TEST_POSTGRES_URL is not set"),
]

DESKS = 4
ROUNDS = 50
LOSERS = (StaleRequest, InvalidDecision, AppointmentUnavailable)


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    eng = make_engine(POSTGRES_URL)
    drop_schema(eng)
    create_schema(eng)
    yield eng
    drop_schema(eng)
    eng.dispose()


def _desk(desk: int, url: str, rounds: list[tuple[int, int, int]], barrier: Any, out: Any) -> None:
    """One workstation: at every round, wait for the others, then decide."""
    engine = make_engine(url)
    workflow = make_workflow(engine, user=f"user{desk}", desk=f"desk-{desk}")
    results: list[tuple[int, str, str]] = []
    try:
        for index, (a, b, appointment) in enumerate(rounds):
            request = a if desk in (0, 2) else b
            version = 1  # every desk shows the request as it was created
            barrier.wait(timeout=30)
            try:
                if desk < 2:
                    workflow.link(request, appointment, expected_version=version, send_email=True)
                else:
                    workflow.reject(request, f"duplicate (desk {desk})", expected_version=version)
                results.append((index, "won", ""))
            except LOSERS as exc:
                results.append((index, type(exc).__name__, str(exc)))
    finally:
        out.put((desk, results))
        engine.dispose()


def test_many_desks_deciding_at_once_never_double_decide(pg_engine: Engine) -> None:
    provider = add_provider(pg_engine, "D1", "Mira", "Chen")
    rounds: list[tuple[int, int, int]] = []
    for i in range(ROUNDS):
        patient = add_patient(pg_engine, "Ana", f"Race{i}", email=f"ana{i}@example.org")
        start = local(2026, 12, 3 + i % 20, 9 + i % 8)
        appointment = add_appointment(pg_engine, patient, provider, start)
        a = add_request(pg_engine, "Ana", f"Race{i}", start, patient_id=patient)
        b = add_request(pg_engine, "Ana", f"Race{i}", start, patient_id=patient)
        rounds.append((a, b, appointment))
    pg_engine.dispose()  # nothing of ours is shared with the desks

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(DESKS)
    out = ctx.Queue()
    started = time.monotonic()
    desks = [
        ctx.Process(target=_desk, args=(d, POSTGRES_URL, rounds, barrier, out))
        for d in range(DESKS)
    ]
    for process in desks:
        process.start()
    results = dict(out.get(timeout=120) for _ in desks)
    for process in desks:
        process.join(timeout=30)
        assert process.exitcode == 0
    elapsed = time.monotonic() - started

    outcomes: Counter[str] = Counter()
    for desk_results in results.values():
        assert len(desk_results) == ROUNDS
        for _, outcome, message in desk_results:
            outcomes[outcome] += 1
            if outcome != "won":  # the loser is told who decided, and when
                assert "Nothing was changed" in message
                assert " by user" in message and "@desk-" in message, message

    with read_session(pg_engine) as session:
        requests = {r.id: r for r in session.exec(select(OnlineRequest))}
        decisions = Counter(
            e.request_id for e in session.exec(select(AuditEvent)) if e.action in ("link", "reject")
        )
        linked_twice = session.execute(
            sa.text(
                "SELECT linked_appointment_id FROM online_request "
                "WHERE linked_appointment_id IS NOT NULL "
                "GROUP BY linked_appointment_id HAVING count(*) > 1"
            )
        ).all()
    duplicates = sum(n - 1 for n in decisions.values() if n > 1) + len(linked_twice)
    print(
        f"\n{DESKS} processes x {ROUNDS} rounds in {elapsed:.1f} s: {dict(outcomes)}; "
        f"duplicates {duplicates}"
    )
    assert duplicates == 0
    for a, b, _appointment in rounds:
        winners = 0
        for request_id in (a, b):
            request = requests[request_id]
            assert decisions[request_id] == 1  # exactly one decision per request
            assert request.state in (RequestState.LINKED.value, RequestState.REJECTED.value)
            assert request.version == 2
            winners += request.state == RequestState.LINKED.value
        assert winners <= 1  # never one appointment for two requests
    # per round: one decision per request won, everything else lost
    assert outcomes["won"] == 2 * ROUNDS
    assert sum(outcomes.values()) == DESKS * ROUNDS
