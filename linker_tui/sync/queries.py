"""The read side of the sync, for the status line, the runs screen and the CLI.

Light to import (the list's screens name :class:`SyncStatus` before the first rows): the
ORM is imported by the reads, which come after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from linker_tui.store.db import read_session
from linker_tui.store.enums import RequestState, SyncRunStatus
from linker_tui.sync.summary import SyncSummary

if TYPE_CHECKING:
    from linker_tui.store.models import SyncRun

# A run still "running" after this long was cut off (process killed): not shown as running.
_STALE_RUN = timedelta(hours=1)


@dataclass(frozen=True)
class SyncProblemView:
    """A row or file a run could not import."""

    run_id: int
    source: str  # pms or inbox
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class SyncStatus:
    """What the status line shows."""

    last_run: SyncSummary | None  # the newest run, whatever its outcome
    last_success: SyncSummary | None  # the newest run that ended ok
    running: bool  # a run (of any workstation) is going on
    attention: int  # requests flagged for staff
    waiting: int  # requests waiting for the PMS
    refused: int = 0
    """Rows (and inbox files) the newest run that read the PMS export could not import:
    they stand until an export without them is read (a run that finds the export
    unchanged does not clear them)."""

    @property
    def failing(self) -> bool:
        """Whether the newest finished run failed."""
        return self.last_run is not None and self.last_run.status is SyncRunStatus.FAILED


def latest_runs(engine: Engine, n: int = 50) -> list[SyncSummary]:
    """The newest ``n`` runs, newest first."""
    from sqlmodel import col, select

    from linker_tui.store.models import SyncRun

    with read_session(engine) as session:
        rows = session.exec(select(SyncRun).order_by(col(SyncRun.id).desc()).limit(n)).all()
        return [SyncSummary.from_row(r) for r in rows]


def sync_problems(engine: Engine, run_id: int, limit: int = 1_000) -> list[SyncProblemView]:
    """The problems a run stored (at most ``limit``), in file and line order."""
    from sqlmodel import col, select

    from linker_tui.store.models import SyncProblem

    with read_session(engine) as session:
        rows = session.exec(
            select(SyncProblem)
            .where(SyncProblem.run_id == run_id)
            .order_by(col(SyncProblem.id))
            .limit(limit)
        ).all()
        return [SyncProblemView(r.run_id, r.source, r.file, r.line, r.reason) for r in rows]


def last_successful_sync(engine: Engine) -> SyncSummary | None:
    """The newest run that ended ok, or None."""
    from sqlmodel import col, select

    from linker_tui.store.models import SyncRun

    with read_session(engine) as session:
        row = session.exec(
            select(SyncRun)
            .where(SyncRun.status == SyncRunStatus.OK.value)
            .order_by(col(SyncRun.id).desc())
            .limit(1)
        ).first()
        return SyncSummary.from_row(row) if row is not None else None


def sync_status(engine: Engine, now: datetime) -> SyncStatus:
    """Everything the status line needs, in one short read."""
    from sqlmodel import col, func, select

    from linker_tui.store.models import OnlineRequest, SyncRun

    with read_session(engine) as session:
        latest = session.exec(select(SyncRun).order_by(col(SyncRun.id).desc()).limit(5)).all()
        running = any(
            r.status == SyncRunStatus.RUNNING.value and now - r.started_at < _STALE_RUN
            for r in latest
        )
        finished = [r for r in latest if r.status != SyncRunStatus.RUNNING.value]
        attention = session.exec(
            select(func.count()).select_from(OnlineRequest).where(OnlineRequest.attention != "")
        ).one()
        waiting = session.exec(
            select(func.count())
            .select_from(OnlineRequest)
            .where(OnlineRequest.state == RequestState.WAITING_PMS.value)
        ).one()
    success = next((r for r in finished if r.status == SyncRunStatus.OK.value), None)
    refused = next(
        (r.problems for r in finished if r.status == SyncRunStatus.OK.value and _read_data(r)),
        None,
    )
    return SyncStatus(
        last_run=SyncSummary.from_row(finished[0]) if finished else None,
        last_success=(
            SyncSummary.from_row(success) if success is not None else last_successful_sync(engine)
        ),
        running=running,
        attention=int(attention),
        waiting=int(waiting),
        refused=refused if refused is not None else _refused_before(engine, latest),
    )


def _read_data(run: SyncRun) -> bool:
    """Whether a run read the export (or met a problem): its problems are the current ones."""
    return run.rows_seen > 0 or run.problems > 0


def _refused_before(engine: Engine, latest: Sequence[SyncRun]) -> int:
    """The problems of the newest ok run that read data, older than ``latest``."""
    from sqlmodel import col, select

    from linker_tui.store.models import SyncRun

    if not latest:
        return 0
    oldest = min(r.id for r in latest if r.id is not None)
    with read_session(engine) as session:
        row = session.exec(
            select(SyncRun)
            .where(
                SyncRun.status == SyncRunStatus.OK.value,
                col(SyncRun.id) < oldest,
                (col(SyncRun.rows_seen) > 0) | (col(SyncRun.problems) > 0),
            )
            .order_by(col(SyncRun.id).desc())
            .limit(1)
        ).first()
    return row.problems if row is not None else 0
