"""The ``sync_run`` record of a run: its counters while it goes on (:class:`RunCounts`),
its start and end, its problems, and the pruning of old runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from linker_tui.ingest.pms_export import RowProblem
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import SyncRun
from linker_tui.sync.sql import RunSql


@dataclass
class RunCounts:
    """Counters of the run being made."""

    id: int
    trigger: str
    started_at: datetime
    source: str = ""
    rows_seen: int = 0
    inserted: int = 0
    updated: int = 0
    cancelled: int = 0
    flagged: int = 0
    requests_imported: int = 0
    problems: list[tuple[str, RowProblem]] = field(default_factory=list)
    unstored: list[tuple[str, RowProblem]] = field(default_factory=list)
    stored: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    detail: dict[str, int] = field(default_factory=dict)

    def add_problems(self, source: str, problems: Sequence[RowProblem]) -> None:
        """Problems found (by the PMS or the inbox step)."""
        items = [(source, p) for p in problems]
        self.problems.extend(items)
        self.unstored.extend(items)

    def take_unstored(self, limit: int, source: str | None = None) -> list[tuple[str, RowProblem]]:
        """Problems not stored yet (of ``source``), at most up to ``limit`` per run."""
        chosen = [p for p in self.unstored if source is None or p[0] == source]
        self.unstored = [p for p in self.unstored if source is not None and p[0] != source]
        chosen = chosen[: max(0, limit - self.stored)]
        self.stored += len(chosen)
        return chosen

    def reset_pms(self) -> None:
        """The PMS transaction was rolled back: forget what it counted."""
        self.rows_seen = self.inserted = self.updated = self.cancelled = self.flagged = 0
        self.problems = [p for p in self.problems if p[0] != "pms"]
        self.unstored = [p for p in self.unstored if p[0] != "pms"]
        self.detail = {k: v for k, v in self.detail.items() if k.startswith("requests_")}

    def count(self, table: str, inserted: int, updated: int) -> None:
        """Rows of ``table`` inserted and updated."""
        self.detail[f"{table}_inserted"], self.detail[f"{table}_updated"] = inserted, updated
        self.inserted += inserted
        self.updated += updated


def record_end(row: SyncRun, run: RunCounts, status: SyncRunStatus, finished: datetime) -> None:
    """Copy the run's outcome into its ``sync_run`` row."""
    row.finished_at = finished
    row.status = status
    row.source = run.source
    row.rows_seen, row.inserted, row.updated = run.rows_seen, run.inserted, run.updated
    row.cancelled, row.flagged = run.cancelled, run.flagged
    row.problems = len(run.problems)
    row.requests_imported = run.requests_imported
    row.note = "; ".join(run.notes)
    row.error = "; ".join(run.errors)
    row.detail = json.dumps(run.detail, sort_keys=True)


def insert_problems(sql: RunSql, run_id: int, problems: Sequence[tuple[str, RowProblem]]) -> None:
    """Store problems of the run."""
    if problems:
        sql.conn.exec_driver_sql(
            "INSERT INTO sync_problem (run_id, source, file, line, reason) "
            f"VALUES ({sql.params(5)})",
            [(run_id, source, p.file, p.line, p.reason) for source, p in problems],
        )


def update_counts(sql: RunSql, run: RunCounts) -> None:
    """Store the run's counts so far (in the PMS step's transaction)."""
    p = sql.param
    sql.conn.exec_driver_sql(
        f"UPDATE sync_run SET rows_seen = {p}, inserted = {p}, updated = {p}, "
        f"cancelled = {p}, flagged = {p}, problems = {p}, detail = {p} WHERE id = {p}",
        (
            run.rows_seen,
            run.inserted,
            run.updated,
            run.cancelled,
            run.flagged,
            len(run.problems),
            json.dumps(run.detail, sort_keys=True),
            run.id,
        ),
    )


def update_requests_imported(sql: RunSql, run_id: int, imported: int) -> None:
    """Store how many requests the inbox step imported."""
    sql.conn.exec_driver_sql(
        f"UPDATE sync_run SET requests_imported = {sql.param} WHERE id = {sql.param}",
        (imported, run_id),
    )


def prune(sql: RunSql, now: datetime, keep_runs_days: int, keep_problem_runs: int) -> None:
    """Forget runs older than ``keep_runs_days`` and problems of all but the latest
    ``keep_problem_runs`` runs."""
    cutoff = sql.stored_datetime(now - timedelta(days=keep_runs_days))
    old = f"SELECT id FROM sync_run WHERE started_at < {sql.param}"
    sql.conn.exec_driver_sql(f"DELETE FROM sync_problem WHERE run_id IN ({old})", (cutoff,))
    sql.conn.exec_driver_sql(f"DELETE FROM sync_run WHERE started_at < {sql.param}", (cutoff,))
    threshold = sql.conn.exec_driver_sql(
        f"SELECT id FROM sync_run ORDER BY id DESC LIMIT 1 OFFSET {int(keep_problem_runs)}"
    ).scalar()
    if threshold is not None:
        sql.conn.exec_driver_sql(
            f"DELETE FROM sync_problem WHERE run_id <= {sql.param}", (threshold,)
        )
