"""What a sync run did: :class:`SyncSummary` (a light module: the status line and the
runs screen read it without importing the engine)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from linker_tui.store.enums import SyncRunStatus

if TYPE_CHECKING:
    from linker_tui.store.models import SyncRun


@dataclass(frozen=True)
class SyncSummary:
    """What a run did (also how a stored ``sync_run`` reads back)."""

    run_id: int | None
    status: SyncRunStatus
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    rows_seen: int = 0
    inserted: int = 0
    updated: int = 0
    cancelled: int = 0
    problems: int = 0
    requests_imported: int = 0
    flagged: int = 0
    note: str = ""
    error: str = ""
    detail: Mapping[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the run ended without error."""
        return self.status is SyncRunStatus.OK

    @property
    def changed(self) -> bool:
        """Whether the run changed anything staff can see."""
        return any(
            (self.inserted, self.updated, self.cancelled, self.requests_imported, self.flagged)
        )

    @property
    def seconds(self) -> float | None:
        """How long it took."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def text(self) -> str:
        """One line for people: ``sync #12 ok in 0.4 s: 3410 rows read, 2 new, ...``."""
        head = f"sync #{self.run_id} {self.status.value}" if self.run_id else "sync"
        if self.seconds is not None:
            head += f" in {self.seconds:.1f} s"
        parts = [
            f"{self.rows_seen} rows read",
            f"{self.inserted} new",
            f"{self.updated} changed",
            f"{self.cancelled} cancelled",
            f"{self.problems} problem{'s' if self.problems != 1 else ''}",
            f"{self.requests_imported} request{'s' if self.requests_imported != 1 else ''}",
        ]
        if self.flagged:
            parts.append(f"{self.flagged} flagged for staff")
        text = f"{head}: {', '.join(parts)}"
        if self.note:
            text += f" ({self.note})"
        if self.error:
            text += f"; error: {self.error}"
        return text

    @classmethod
    def from_row(cls, run: SyncRun) -> SyncSummary:
        """Read back a stored run."""
        try:
            detail = {k: int(v) for k, v in json.loads(run.detail or "{}").items()}
        except (ValueError, TypeError, AttributeError):
            detail = {}
        return cls(
            run_id=run.id,
            status=SyncRunStatus(run.status),
            trigger=run.trigger,
            started_at=run.started_at,
            finished_at=run.finished_at,
            rows_seen=run.rows_seen,
            inserted=run.inserted,
            updated=run.updated,
            cancelled=run.cancelled,
            problems=run.problems,
            requests_imported=run.requests_imported,
            flagged=run.flagged,
            note=run.note,
            error=run.error,
            detail=detail,
        )


class SyncFailed(RuntimeError):
    """A run that ended ``failed`` (raised by the scheduled job, so ``on_error`` hears)."""

    def __init__(self, summary: SyncSummary) -> None:
        super().__init__(summary.error or summary.text())
        self.summary = summary
