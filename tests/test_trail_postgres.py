"""Several desks on one PostgreSQL database, logged in as the desk role the migrations
grant: time and identity come from the server, the desk role cannot write around the
audit trail, races have one winner, and ``audit --verify`` finds what is missing."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from linker_tui.cli.main import main
from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock, SystemClock
from linker_tui.store import schema
from linker_tui.store.db import make_engine, read_session
from linker_tui.store.enums import RequestState
from linker_tui.store.lease import LeaseKeeper, lease_info
from linker_tui.store.models import AuditEvent, OnlineRequest
from linker_tui.workflow.decisions import Workflow
from linker_tui.workflow.errors import AppointmentUnavailable, InvalidDecision, StaleRequest
from linker_tui.workflow.practice import PracticeInfo, format_local
from linker_tui.workflow.trail import clock_skew
from linker_tui.workflow.trail_check import verify_trail
from tests.builders import (
    TZ,
    add_appointment,
    add_patient,
    add_provider,
    add_request,
    empty_config,
    local,
)
from tests.conftest import POSTGRES_URL, make_workflow
from tests.pg_roles import Roles, linker_roles, upgrade_as_admin
from tests.sync_support import make_sync

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="LINKER_TEST_POSTGRES_URL is not set"),
]


@pytest.fixture
def roles() -> Iterator[Roles]:
    with linker_roles(POSTGRES_URL) as made:
        yield made


@pytest.fixture
def shared(roles: Roles) -> Iterator[tuple[Engine, Engine, Roles]]:
    """The database upgraded by the admin; the admin's engine and a desk's."""
    admin = upgrade_as_admin(roles)
    desk = make_engine(roles.desk_url)
    yield admin, desk, roles
    desk.dispose()
    admin.dispose()


def _server_now(engine: Engine) -> datetime:
    with engine.connect() as conn:
        now: datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    return now


def _events(engine: Engine, request_id: int) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.request_id == request_id)
                .order_by(col(AuditEvent.id))
            )
        )


def _cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, roles: Roles, url: str) -> None:
    monkeypatch.setenv("LINKER_CONFIG", str(empty_config(tmp_path)))
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LINKER_DATABASE_URL", url)
    monkeypatch.setenv("LINKER_DATABASE_ADMIN_ROLE", roles.admin)
    monkeypatch.setenv("LINKER_DATABASE_DESK_ROLE", roles.desk)


# ------------------------------------------------------------------ roles and grants
def test_db_upgrade_by_the_admin_leaves_the_database_ready_for_the_desks(
    roles: Roles,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _cli_env(monkeypatch, tmp_path, roles, roles.desk_url)
    assert main(["db", "upgrade"]) == 2  # the desk role may not change the schema
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"connected as {roles.desk}" in err and roles.admin in err
    desk = make_engine(roles.desk_url)
    try:
        assert schema.current_revision(desk) is None  # nothing changed
        _cli_env(monkeypatch, tmp_path, roles, roles.admin_url)
        assert main(["db", "upgrade"]) == 0
        assert f"→ {schema.head_revision()}" in capsys.readouterr().out
        # no GRANT by hand: the desk inserts requests and decides at once
        rid = add_request(desk, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
        make_workflow(desk).defer(rid, expected_version=1)
        make_workflow(desk, "bob", "desk-2").reject(rid, "No availability", expected_version=2)
        defer, reject = _events(desk, rid)
        assert (defer.db_user, reject.db_user) == (roles.desk, roles.desk)
        assert reject.application_name.startswith("linker-tui ")
        assert (defer.desk_user, reject.desk_user) == ("alice", "bob")
        assert verify_trail(desk).complete
    finally:
        desk.dispose()


def test_db_upgrade_names_a_missing_role_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with linker_roles(POSTGRES_URL) as made:
        missing = Roles(made.admin, f"{made.desk}_gone", made.admin_url, made.desk_url)
        _cli_env(monkeypatch, tmp_path, missing, made.admin_url)
        assert main(["db", "upgrade"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert f"the desk role {missing.desk} does not exist" in err and "nothing changed" in err


def test_each_forging_attempt_by_the_desk_role_fails(shared: tuple[Engine, Engine, Roles]) -> None:
    admin, desk, _ = shared
    rid = add_request(desk, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
    make_workflow(desk).defer(rid, expected_version=1)
    attempts = {
        # a forged audit row
        "INSERT INTO audit_event (at, action, request_id, detail, os_user, workstation,"
        " desk_user, db_user, application_name, before, after)"
        " VALUES (now(), 'link', :rid, 'forged', 'alice', 'desk-1', 'alice', 'x', 'x', '', '')": (
            "permission denied"
        ),
        "SELECT linker_audit_row(:rid, '{}', '{}', 'link')": "permission denied",
        # rewriting or removing the trail
        "UPDATE audit_event SET detail = 'forged'": "permission denied",
        "DELETE FROM audit_event": "permission denied",
        "TRUNCATE audit_event": "permission denied",
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change": "must be owner",
        "DROP TRIGGER online_request_audit ON online_request": "must be owner",
        "CREATE OR REPLACE FUNCTION linker_request_facts(r online_request) RETURNS jsonb"
        " LANGUAGE sql AS $$ SELECT '{}'::jsonb $$": "permission denied",
        # a decision without its audit row
        "UPDATE online_request SET state = 'rejected' WHERE id = :rid": "permission denied",
        "UPDATE online_request SET decided_by = 'carol@desk-3' WHERE id = :rid": (
            "permission denied"
        ),
        "DELETE FROM online_request WHERE id = :rid": "permission denied",
        # a request that "arrives" decided
        "INSERT INTO online_request (external_id, received_at, typed_first_name,"
        " typed_last_name, typed_email, typed_phone, requested_start, reason, note,"
        " patient_chosen_by, state, reject_reason, decided_by, version, attention)"
        " VALUES ('REQ-FORGED', now(), 'Eve', 'X', '', '', now(), '', '', '', 'rejected',"
        " 'forged', 'alice@desk-1', 2, '')": "arrives undecided",
        # the decision function changes decision fields only, and only by its rules
        "SELECT linker_decide(:rid, 2, 'reject', '{\"decided_by\": \"carol\"}', '', 'c', 'c',"
        " 'c', now())": "cannot change",
        "SELECT linker_decide(:rid, 2, 'forge', '{}', '', 'c', 'c', 'c', now())": "unknown",
    }
    before = (_events(admin, rid), _request(admin, rid))
    for statement, why in attempts.items():
        with pytest.raises(DBAPIError, match=why), desk.begin() as conn:
            conn.execute(sa.text(statement), {"rid": rid})
    assert (_events(admin, rid), _request(admin, rid)) == before
    assert verify_trail(admin).complete


def _request(engine: Engine, request_id: int) -> OnlineRequest:
    with read_session(engine) as session:
        request = session.get(OnlineRequest, request_id)
        assert request is not None
        return request


# ------------------------------------------------------------------ the server's clock
def test_a_desk_whose_clock_is_3_minutes_fast_gets_the_servers_time(
    shared: tuple[Engine, Engine, Roles],
) -> None:
    admin, desk, _ = shared
    fast = FixedClock(datetime.now(UTC) + timedelta(minutes=3))
    workflow = Workflow(desk, fast, Actor("bob", "desk-2"), TZ, PracticeInfo("Maple Grove"))
    skew = clock_skew(desk, fast)
    assert skew is not None and abs(skew - timedelta(minutes=3)) < timedelta(seconds=5)
    real = clock_skew(desk)
    assert real is not None and abs(real) < timedelta(seconds=5)

    rid = add_request(admin, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
    workflow.reject(rid, "No availability", expected_version=1)
    (event,) = _events(admin, rid)
    server = _server_now(admin)
    assert abs(event.at - server) < timedelta(seconds=5)  # the server's time …
    assert event.desk_at == fast.now()  # … the desk's beside it, for information
    decided_at = _request(admin, rid).decided_at
    assert decided_at is not None and abs(decided_at - server) < timedelta(seconds=5)

    # no early take-over: the desk 3 minutes "later" cannot take a live lease
    leader = LeaseKeeper(desk, SystemClock(), "alice@desk-1/1/a")
    skewed = LeaseKeeper(desk, fast, "bob@desk-2/2/b")
    ttl = timedelta(seconds=60)
    assert leader.claim("sync", ttl) and not skewed.claim("sync", ttl)
    assert leader.holds("sync") and not skewed.holds("sync")
    info = lease_info(desk, "sync")
    assert info is not None and abs(info.expires_at - (server + ttl)) < timedelta(seconds=5)


# ------------------------------------------------------------------ races
def _contest(desks: list[Workflow], request_id: int, appointment_id: int) -> list[tuple[str, str]]:
    barrier = threading.Barrier(len(desks))
    results: list[tuple[str, str]] = []

    def decide(index: int, workflow: Workflow) -> None:
        barrier.wait(10)
        try:
            if index == 0:
                workflow.link(request_id, appointment_id, expected_version=1, send_email=False)
            else:
                workflow.reject(request_id, "no time", expected_version=1)
            results.append(("won", workflow.actor.label))
        except (StaleRequest, InvalidDecision, AppointmentUnavailable) as exc:
            results.append(("lost", str(exc)))

    threads = [threading.Thread(target=decide, args=pair) for pair in enumerate(desks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_desks_deciding_at_once_one_wins_the_other_is_told_who_and_when(
    shared: tuple[Engine, Engine, Roles],
) -> None:
    admin, _, roles = shared
    engines = [make_engine(roles.desk_url) for _ in range(2)]
    desks = [make_workflow(engines[0]), make_workflow(engines[1], "bob", "desk-2")]
    provider = add_provider(admin, "D1", "Mira", "Chen")
    try:
        for round_ in range(15):
            patient = add_patient(admin, "Ana", f"Race{round_}")
            start = local(2026, 12, 3 + round_ % 20, 9)
            appointment = add_appointment(admin, patient, provider, start)
            rid = add_request(admin, "Ana", f"Race{round_}", start, patient_id=patient)
            results = _contest(desks, rid, appointment)
            assert sorted(outcome for outcome, _ in results) == ["lost", "won"]
            request = _request(admin, rid)
            winner = request.decided_by
            assert winner in ("alice@desk-1", "bob@desk-2")
            (message,) = [text for outcome, text in results if outcome == "lost"]
            when = format_local(request.decided_at, TZ)  # the server's time
            assert f"by {winner} at {when}." in message, message
            (event,) = _events(admin, rid)
            assert event.action in ("link", "reject") and event.db_user == roles.desk
        assert verify_trail(admin).complete
    finally:
        for engine in engines:
            engine.dispose()


# ------------------------------------------------------------------ a busy day
DESKS = 3
DECISIONS = 500
_TALLY = threading.Lock()


def _busy_desk(url: str, index: int, ids: list[int], tally: Counter[str]) -> None:
    """A desk working through requests picked at random, as fast as it can: defer the
    pending, reject the waiting, reopen the rejected. Other desks get there first now and
    then: those decisions are refused."""
    engine = make_engine(url)
    workflow = make_workflow(engine, f"user{index}", f"desk-{index}")
    rng = random.Random(index)
    try:
        while tally["won"] < DECISIONS:
            rid = rng.choice(ids)
            with read_session(engine) as session:
                request = session.get(OnlineRequest, rid)
                assert request is not None
                state, version = RequestState(request.state), request.version
            try:
                if state is RequestState.PENDING:
                    workflow.defer(rid, expected_version=version)
                elif state is RequestState.WAITING_PMS:
                    workflow.reject(rid, "no availability", expected_version=version)
                else:
                    workflow.reopen(rid, expected_version=version)
                outcome = "won"
            except (StaleRequest, InvalidDecision):
                outcome = "lost"
            with _TALLY:
                tally[outcome] += 1
    finally:
        engine.dispose()


def test_a_busy_day_leaves_a_complete_trail_and_verify_finds_an_injected_gap(
    shared: tuple[Engine, Engine, Roles],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin, _, roles = shared
    ids = [add_request(admin, "Ann", f"Busy{i}", local(2026, 12, 3, 9)) for i in range(30)]
    tally: Counter[str] = Counter()
    threads = [
        threading.Thread(target=_busy_desk, args=(roles.desk_url, i, ids, tally))
        for i in range(DESKS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    with admin.connect() as conn:
        events = conn.execute(sa.text("SELECT count(*) FROM audit_event")).scalar_one()
    print(f"\n{DESKS} desks: {dict(tally)}; {events} audit events")
    assert tally["won"] >= DECISIONS and events == tally["won"]

    _cli_env(monkeypatch, tmp_path, roles, roles.desk_url)  # any desk can check it
    capsys.readouterr()
    assert main(["audit", "--verify"]) == 0
    out = "\n" + capsys.readouterr().out
    assert f"\naudit trail complete: 30 request(s), {events} event(s)\n" in out

    # the owner can still write around the trail (it owns the triggers): verify sees it
    with admin.connect() as conn:
        victim, other = conn.execute(
            sa.text(
                "SELECT request_id FROM audit_event GROUP BY request_id HAVING count(*) >= 2 "
                "ORDER BY request_id LIMIT 2"
            )
        ).scalars()
    with admin.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE online_request DISABLE TRIGGER online_request_audit")
        conn.execute(
            sa.text(
                "UPDATE online_request SET state = 'linked', version = version + 1 WHERE id = :i"
            ),
            {"i": victim},
        )
        conn.exec_driver_sql("ALTER TABLE online_request ENABLE TRIGGER online_request_audit")
        conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change")
        conn.execute(
            sa.text(
                "DELETE FROM audit_event WHERE id = (SELECT min(id) FROM audit_event "
                "WHERE request_id = :i)"
            ),
            {"i": other},
        )
        conn.exec_driver_sql("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change")
    assert main(["audit", "--verify"]) == 1
    out = capsys.readouterr().out
    names = {r: _request(admin, r).external_id for r in (victim, other)}
    assert f"gap: {names[victim]}: the request is at version" in out
    assert f"gap: {names[other]}: events missing between version 1 and 2" in out
    assert "2 gap(s)" in out


def test_requests_never_ranked_are_ranked_by_the_admins_upgrade_not_the_desks_sync(
    roles: Roles,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The desk role changes a request only through linker_decide: its syncs leave the
    requests never ranked alone (and end ok); ``db upgrade`` by the admin stores their
    rankings (so does the sync where one role does everything)."""
    admin = upgrade_as_admin(roles)
    desk = make_engine(roles.desk_url)

    def level(request_id: int) -> str:
        with read_session(desk) as session:
            request = session.get(OnlineRequest, request_id)
            assert request is not None
            return request.patient_match_level

    try:
        rid = add_request(desk, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
        summary = make_sync(desk, None).run()
        assert summary.ok, summary.text()
        assert level(rid) == ""
        _cli_env(monkeypatch, tmp_path, roles, roles.admin_url)
        assert main(["db", "upgrade"]) == 0
        assert "patient rankings stored for 1 requests never ranked" in capsys.readouterr().out
        assert level(rid) == "none"
    finally:
        desk.dispose()
        admin.dispose()
