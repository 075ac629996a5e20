"""Runs whose process died (killed, the machine lost power) are closed by the next run,
so the status line does not say "syncing…" for days.

Each run records its process as ``sync_run.holder`` (``host/pid``). A run still
``running`` is dead when its process is gone (same host, no such process), on PostgreSQL
when the next run holds the sync's advisory lock (every live run holds it), and anywhere
when it started longer ago than :data:`DEAD_AFTER` (its lease ran out: no sync takes
that long). Nothing of a dead run was kept: its transaction never committed.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from linker_tui.store.db import write_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import SyncRun

log = logging.getLogger(__name__)

DEAD_AFTER = timedelta(hours=6)
"""A run ``running`` for longer than this is over, whoever ran it."""


def this_holder() -> str:
    """``host/pid`` of this process."""
    return f"{socket.gethostname()}/{os.getpid()}"


def _gone(holder: str) -> bool:
    """Whether ``holder`` names a process of this host that no longer exists."""
    host, _, pid = holder.rpartition("/")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # someone else's process: it exists
        return False
    return False


def close_dead_runs(engine: Engine, now: datetime, *, holding_lock: bool) -> int:
    """Record the end of the dead runs (see the module docstring); returns how many.
    ``holding_lock``: this run holds the cross-workstation sync lock (PostgreSQL)."""
    me = this_holder()
    query = sa.select(col(SyncRun.id), col(SyncRun.holder), col(SyncRun.started_at)).where(
        col(SyncRun.status) == SyncRunStatus.RUNNING.value
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        dead: dict[int, str] = {}
        for run_id, holder, started in rows:
            if holder == me or run_id is None:
                continue
            if _gone(holder):
                dead[run_id] = "its process is gone"
            elif holding_lock and holder:
                dead[run_id] = "it no longer holds the sync lock"
            elif started is not None and _aware(started) < now - DEAD_AFTER:
                dead[run_id] = f"still running after {DEAD_AFTER}"
        if not dead:
            return 0
        with write_session(engine) as session:
            for run_id, why in dead.items():
                session.execute(
                    sa.update(SyncRun)
                    .where(
                        col(SyncRun.id) == run_id,
                        col(SyncRun.status) == SyncRunStatus.RUNNING.value,
                    )
                    .values(
                        status=SyncRunStatus.FAILED.value,
                        finished_at=now,
                        error=f"the sync ended without recording its end ({why}: killed?)",
                    )
                )
    except SQLAlchemyError as exc:  # the run itself will say what is wrong
        log.info("could not close the runs of dead syncs: %s", exc)
        return 0
    log.info("closed %d run(s) of dead syncs", len(dead))
    return len(dead)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
