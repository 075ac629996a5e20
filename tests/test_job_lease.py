"""Leader leases: with several workstations on one database only one runs the shared jobs
(the PMS sync, the outbox relay) per interval; when the leader dies another takes over
within one interval. On SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import SystemClock
from linker_tui.scheduler import SYNC_JOB, JobScheduler
from linker_tui.store.db import make_engine, write_session
from linker_tui.store.lease import LeaseKeeper, lease_info, lease_ttl, new_holder_id
from linker_tui.store.models import JobLease

TTL = timedelta(seconds=60)


class StepClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.at = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def _age(engine: Engine, by: timedelta) -> None:
    """Time passes for the leases: they were taken and last renewed ``by`` earlier (on
    PostgreSQL the server's clock decides, so the test moves the leases, not a clock)."""
    with write_session(engine) as session:
        for lease in session.exec(select(JobLease)).all():
            lease.acquired_at -= by
            lease.expires_at -= by
            session.add(lease)


def test_one_holder_renews_and_another_takes_over_when_it_runs_out(engine: Engine) -> None:
    clock = StepClock()
    a, b = LeaseKeeper(engine, clock, "a@desk-1"), LeaseKeeper(engine, clock, "b@desk-2")
    assert a.claim("sync", TTL)
    assert not b.claim("sync", TTL)
    _age(engine, TTL - timedelta(seconds=1))
    assert not b.claim("sync", TTL)  # not run out yet
    assert a.claim("sync", TTL)  # the leader renews
    first = lease_info(engine, "sync")
    assert first is not None and first.holder == "a@desk-1"
    _age(engine, TTL)  # the leader stopped renewing: it ran out
    assert b.claim("sync", TTL)
    assert not a.claim("sync", TTL)
    info = lease_info(engine, "sync")
    assert info is not None and info.holder == "b@desk-2"
    assert abs(info.acquired_at - _now(engine, clock)) < timedelta(seconds=5)
    assert a.holds("sync") is False and b.holds("sync") is True
    assert not a.release("sync")  # only the holder can release
    assert b.release("sync")
    assert a.claim("sync", TTL)  # released: taken at once
    assert a.claim("outbox", TTL) and not b.claim("outbox", TTL)  # one lease per job


def _now(engine: Engine, clock: StepClock) -> datetime:
    """The leases' time: the server's on PostgreSQL, the desk's on SQLite."""
    if engine.dialect.name != "postgresql":
        return clock.now()
    with engine.connect() as conn:
        server: datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    return server


def _claim(keeper: LeaseKeeper, name: str, barrier: threading.Barrier, wins: list[str]) -> None:
    barrier.wait(10)
    if keeper.claim(name, TTL):
        wins.append(keeper.holder)


def test_only_one_of_many_simultaneous_claims_wins(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    clock = StepClock()
    keepers = []
    for i in range(8):
        eng = make_engine(url)
        keepers.append(LeaseKeeper(eng, clock, f"user@desk-{i}"))
    for round_ in range(5):
        _age(engine, TTL * 2)  # whoever had it, it ran out
        barrier = threading.Barrier(len(keepers))
        wins: list[str] = []
        threads = [
            threading.Thread(target=_claim, args=(k, f"job-{round_ % 2}", barrier, wins))
            for k in keepers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(wins) == 1, wins
    for keeper in keepers:
        keeper.engine.dispose()


def test_a_desk_whose_clock_runs_fast_does_not_take_a_live_lease_early(engine: Engine) -> None:
    """On PostgreSQL the server's clock decides: a desk 3 minutes fast cannot take over a
    lease that is still live, and a desk 3 minutes slow cannot keep one that ran out. On
    SQLite (one machine, one clock) the desk's clock is the clock."""
    if engine.dialect.name != "postgresql":
        pytest.skip("one clock on one machine")
    real = SystemClock()
    fast = StepClock()
    fast.at = real.now() + timedelta(minutes=3)
    slow = StepClock()
    slow.at = real.now() - timedelta(minutes=3)
    leader = LeaseKeeper(engine, real, "a@desk-1")
    skewed = LeaseKeeper(engine, fast, "b@desk-2")
    assert leader.claim("sync", TTL)
    assert not skewed.claim("sync", TTL)  # 3 minutes "later" at desk 2: still live
    assert not skewed.holds("sync") and leader.holds("sync")
    info = lease_info(engine, "sync")
    assert info is not None and abs(info.expires_at - (real.now() + TTL)) < timedelta(seconds=5)
    behind = LeaseKeeper(engine, slow, "a@desk-1")  # the leader's clock falls behind
    _age(engine, TTL + timedelta(seconds=1))
    assert not behind.holds("sync")  # ran out by the server's clock
    assert skewed.claim("sync", TTL)  # and the other desk takes it over


# ------------------------------------------------------------- three workstations
# Long enough that a busy machine's scheduling delays (0.1-0.2 s were seen with the
# suite running in parallel at load 12) stay well inside the assertions' fractions of it.
INTERVAL = 1.0


class Desk:
    """A workstation: its own engine, lease keeper and scheduler running a fake sync."""

    def __init__(self, url: str, index: int, runs: list[tuple[float, int]]) -> None:
        self.index = index
        self.engine = make_engine(url)
        self.keeper = LeaseKeeper(
            self.engine, SystemClock(), new_holder_id(Actor("user", f"desk-{index}"))
        )
        self.scheduler = JobScheduler(max_workers=1)
        ttl = lease_ttl(INTERVAL)

        def sync() -> None:
            runs.append((time.monotonic(), index))

        self.scheduler.add_job(
            SYNC_JOB,
            sync,
            INTERVAL,
            lease=lambda: self.keeper.claim(SYNC_JOB, ttl),
            release=lambda: self.keeper.release(SYNC_JOB),
        )

    def stop(self, *, crash: bool = False) -> None:
        self.scheduler.shutdown(wait=True, release_leases=not crash)


@pytest.fixture
def desks(engine: Engine) -> Iterator[tuple[list[Desk], list[tuple[float, int]]]]:
    url = engine.url.render_as_string(hide_password=False)
    runs: list[tuple[float, int]] = []
    made = [Desk(url, i, runs) for i in range(3)]
    yield made, runs
    for desk in made:
        desk.stop()
        desk.engine.dispose()


def _per_interval(runs: list[tuple[float, int]], start: float, end: float) -> list[int]:
    """Runs per interval, the intervals centred on the multiples of INTERVAL after
    ``start`` (a run due at a boundary may come a few milliseconds early or late)."""
    buckets = [0] * round((end - start) / INTERVAL)
    for at, _ in runs:
        index = round((at - start) / INTERVAL)
        if 0 <= index < len(buckets):
            buckets[index] += 1
    return buckets


def test_three_desks_run_the_sync_once_per_interval_and_take_over(
    desks: tuple[list[Desk], list[tuple[float, int]]],
) -> None:
    made, runs = desks
    for desk in made:
        desk.scheduler.start()
    time.sleep(INTERVAL * 6 + INTERVAL / 2)
    before = list(runs)
    assert before, "nobody ran the sync"
    start = before[0][0]
    counts = _per_interval(before, start, start + INTERVAL * 6)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(before)]
    print(f"\nsync runs per interval (3 desks, {INTERVAL} s): {counts}")
    assert counts == [1] * 6
    assert min(gaps) > INTERVAL * 0.8

    # the leader dies: it stops renewing without releasing its lease
    leader = made[before[-1][1]]
    last_run = before[-1][0]
    leader.stop(crash=True)
    killed = time.monotonic()
    time.sleep(INTERVAL * 4)
    after = [run for run in runs if run[0] > killed]
    assert after and all(index != leader.index for _, index in after)
    # the leader's renewal was due one interval after its last run; its lease ran out a
    # margin later, and another desk's next check comes within one interval of that
    takeover = after[0][0] - (last_run + INTERVAL)
    margin = lease_ttl(INTERVAL).total_seconds() - INTERVAL
    print(f"takeover {takeover:.2f} s after the missed renewal (interval {INTERVAL} s)")
    assert takeover <= INTERVAL + margin + 0.05
    counts_after = _per_interval(after, after[0][0], after[0][0] + INTERVAL * 3)
    assert counts_after == [1] * 3


def test_a_desk_that_quits_hands_over_at_once(
    desks: tuple[list[Desk], list[tuple[float, int]]],
) -> None:
    made, runs = desks
    for desk in made:
        desk.scheduler.start()
    time.sleep(INTERVAL * 1.5)
    leader = made[runs[-1][1]]
    leader.stop()  # releases its lease
    info = lease_info(leader.engine, SYNC_JOB)
    assert info is None  # released
    quit_at = time.monotonic()
    time.sleep(INTERVAL * 1.5)
    after = [run for run in runs if run[0] > quit_at]
    assert after and after[0][0] - quit_at <= INTERVAL * 1.1
    assert all(index != leader.index for _, index in after)


def test_run_now_runs_even_without_the_lease(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}")
    from linker_tui.store.schema import create_schema

    create_schema(engine)
    other = LeaseKeeper(engine, SystemClock(), "someone@elsewhere")
    assert other.claim(SYNC_JOB, timedelta(minutes=5))
    mine = LeaseKeeper(engine, SystemClock(), "me@here")
    ran = threading.Event()
    scheduler = JobScheduler(max_workers=1)
    scheduler.add_job(
        SYNC_JOB, ran.set, 3600, lease=lambda: mine.claim(SYNC_JOB, timedelta(hours=1))
    )
    with scheduler:
        assert not ran.wait(0.5)  # the scheduled run was skipped: not the leader
        scheduler.run_now(SYNC_JOB)  # staff's "sync now" runs anyway
        assert ran.wait(5)
    engine.dispose()
