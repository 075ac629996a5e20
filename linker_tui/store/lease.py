"""Leader leases: with several workstations on one database, only one runs each shared
background job (the PMS sync, the outbox relay) per interval.

A lease is a row of ``job_lease`` (name, holder, expires_at). Before each scheduled run
a workstation *claims* it with one conditional statement, checked by its row count:

* ``UPDATE job_lease SET holder = me, expires_at = now + ttl
  WHERE name = :job AND (holder = me OR expires_at <= now)`` — renew my lease, or take
  over one that ran out;
* if no row changed: ``INSERT … ON CONFLICT (name) DO NOTHING`` — the first claim ever.

Both run in one write transaction (``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL the
UPDATE locks the row, and a concurrent UPDATE re-checks its WHERE on the committed row),
so two workstations can never both win. The leader renews its lease at every run; the
lease lasts one interval plus a small margin (:func:`lease_ttl`), so a leader that dies
(stops renewing) loses it just after its next renewal was due, and another workstation
takes over at its next check: within one interval (plus the margin) of the missed run.
A workstation that quits releases its leases so another takes over at once.

Times come from the database: on PostgreSQL (several desks) ``now`` is the server's
clock (``clock_timestamp()``), so a desk whose own clock is minutes off neither takes a
live lease early nor keeps one late; on SQLite (one machine) it is the desk's clock.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock
from linker_tui.store import tables
from linker_tui.store.db import db_now, read_session, write_session
from linker_tui.store.models import JobLease

_TABLE = tables.job_lease


def lease_ttl(interval: float) -> timedelta:
    """How long a job's lease lasts: one interval, plus a margin (10 %, at most 5 s) so
    the leader's renewal, a little late now and then, is never beaten by another desk."""
    return timedelta(seconds=interval + min(interval * 0.1, 5.0))


def new_holder_id(actor: Actor) -> str:
    """Who holds a lease: ``alice@desk-2/4242/1a2b3c4d`` (user, machine, process, run)."""
    return f"{actor.label}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a lease, since when and until when."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


class LeaseKeeper:
    """Claims, renews and releases the leases of one holder (one app process)."""

    def __init__(self, engine: Engine, clock: Clock, holder: str) -> None:
        self.engine = engine
        self.clock = clock
        self.holder = holder

    def claim(self, name: str, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``ttl``; False while another holds it."""
        if ttl <= timedelta(0):
            raise ValueError("the lease must last a positive time")
        now = db_now(self.engine, self.clock)
        until = now + ttl
        table = _TABLE
        mine = table.c.holder == self.holder
        with write_session(self.engine) as session:
            renewed = session.execute(
                sa.update(table)
                .where(table.c.name == name, sa.or_(mine, table.c.expires_at <= now))
                .values(
                    holder=self.holder,
                    acquired_at=sa.case((mine, table.c.acquired_at), else_=now),
                    expires_at=until,
                )
                .returning(table.c.name)
            )
            if renewed.first() is not None:
                return True
            insert: Any = (
                postgresql.insert(table)
                if self.engine.dialect.name == "postgresql"
                else sqlite.insert(table)
            )
            created = session.execute(
                insert.values(name=name, holder=self.holder, acquired_at=now, expires_at=until)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(table.c.name)
            )
            # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT here
            return created.first() is not None

    def release(self, name: str) -> bool:
        """Give the lease up at once if this holder has it (a workstation that quits)."""
        table = _TABLE
        with write_session(self.engine) as session:
            done = session.execute(
                sa.delete(table).where(table.c.name == name, table.c.holder == self.holder)
            )
            return _rowcount(done) == 1

    def holds(self, name: str) -> bool:
        """Whether this holder has the lease now (and it has not run out)."""
        table = _TABLE
        with read_session(self.engine) as session:
            held = session.execute(
                sa.select(table.c.name).where(
                    table.c.name == name,
                    table.c.holder == self.holder,
                    table.c.expires_at > db_now(self.engine, self.clock),
                )
            ).first()
        return held is not None


def lease_info(engine: Engine, name: str) -> LeaseInfo | None:
    """Who holds (or last held) the lease ``name``; None if nobody ever claimed it."""
    with read_session(engine) as session:
        row = session.get(JobLease, name)
    if row is None:
        return None
    return LeaseInfo(row.name, row.holder, row.acquired_at, row.expires_at)


def all_leases(engine: Engine) -> list[LeaseInfo]:
    """Every lease (for a status display or ``linker-tui db status``)."""
    with read_session(engine) as session:
        rows = session.exec(select(JobLease).order_by(col(JobLease.name))).all()
    return [LeaseInfo(r.name, r.holder, r.acquired_at, r.expires_at) for r in rows]


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
