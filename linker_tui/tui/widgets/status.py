"""The status line above the key bar: background work the receptionist should know about.

Two parts on one line: on the left the PMS sync ("synced 40 s ago · +3 ~12 appts", or
"! sync failed 10:42 — Y to see"; :func:`sync_status_text`), on the right the mail outbox
("2 emails failed — m to see"). Both are plain text built by the app, never markup; a
failure is also marked with ``!`` so it shows without colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from linker_tui.models import OutboxStatus
from linker_tui.sync.engine import SyncSummary
from linker_tui.sync.queries import SyncStatus
from linker_tui.tui.formatting import clock_time, plural
from linker_tui.tui.safe import one_line
from linker_tui.tui.widgets.header import fit

PROBLEM = "status-line--problem"
MUTED = "status-line--muted"


def mail_status(counts: Mapping[OutboxStatus, int], key: str) -> tuple[str, bool]:
    """The outbox part of the status line and whether it is a problem.

    ``("! 2 emails failed — m to see", True)``, ``("1 email waiting · m mail", False)`` or
    ``("", False)`` when there is nothing to say.
    """
    failed = counts.get(OutboxStatus.FAILED, 0)
    waiting = counts.get(OutboxStatus.QUEUED, 0) + counts.get(OutboxStatus.SENDING, 0)
    if failed:
        return f"! {plural(failed, 'email')} failed — {key} to see", True
    if waiting:
        return f"{plural(waiting, 'email')} waiting to be sent · {key} mail", False
    return "", False


def ago(then: datetime, now: datetime) -> str:
    """``just now``, ``40 s ago``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    seconds = int((now - then).total_seconds())
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{plural(seconds // 86400, 'day')} ago"


def run_counts(summary: SyncSummary) -> str:
    """``+3 ~12 -1 appts ~2 patients +1 request`` (what a run changed: appointments new,
    changed and cancelled; patients and providers new or changed; requests imported) or
    ``no changes``."""
    detail = summary.detail
    if "appointments_inserted" in detail:
        appts = (detail["appointments_inserted"], detail.get("appointments_updated", 0))
    else:  # a run recorded before the per-table counts: all tables together
        appts = (summary.inserted, summary.updated)
    groups = []
    marks = [("+", appts[0]), ("~", appts[1]), ("-", summary.cancelled)]
    counted = [f"{sign}{n}" for sign, n in marks if n]
    if counted:
        groups.append(f"{' '.join(counted)} appts")
    for table, word in (("patients", "patient"), ("providers", "provider")):
        added = detail.get(f"{table}_inserted", 0)
        changed = detail.get(f"{table}_updated", 0)
        if added or changed:
            counted = [f"{sign}{n}" for sign, n in (("+", added), ("~", changed)) if n]
            groups.append(f"{' '.join(counted)} {word if added + changed == 1 else table}")
    if summary.requests_imported:
        groups.append(f"+{plural(summary.requests_imported, 'request')}")
    return " ".join(groups) or "no changes"


def sync_status_text(
    status: SyncStatus | None,
    now: datetime,
    tz: ZoneInfo,
    *,
    stale_after: timedelta,
    runs_key: str,
    sync_key: str,
) -> tuple[str, bool]:
    """The sync part of the status line and whether it is a problem (marked ``!`` too).

    ``("synced 40 s ago · +3 ~12 appts", False)``, ``("! sync failed 10:42 — Y to see",
    True)``, ``("! last sync 25 min ago — Y to see", True)`` when the data is stale.
    """
    if status is None:
        return "", False
    attention = f" · ! {plural(status.attention, 'request')} to look at" if status.attention else ""
    running = "syncing… · " if status.running else ""
    last, success = status.last_run, status.last_success
    if last is not None and status.failing:
        when = clock_time(last.finished_at or last.started_at, tz)
        return f"{running}! sync failed {when} — {runs_key} to see{attention}", True
    if success is None:
        if status.running:
            return f"syncing…{attention}", bool(attention)
        return f"not synced yet · {sync_key} to sync{attention}", bool(attention)
    finished = success.finished_at or success.started_at
    if now - finished > stale_after:
        return f"{running}! last sync {ago(finished, now)} — {runs_key} to see{attention}", True
    text = f"{running}synced {ago(finished, now)} · {run_counts(success)}{attention}"
    return text, bool(attention)


class StatusLine(Widget):
    """``Sync …`` on the left, the outbox on the right (one line, each part cut with an
    ellipsis before it wraps); drawn directly, without child widgets.

    The outbox part takes the room it needs (with a blank on each side), the sync part
    the rest; a part that is a problem is bold in the error colour, the outbox part is
    muted otherwise."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {PROBLEM, MUTED}
    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        & > .status-line--problem {
            color: $error;
            text-style: bold;
        }
        & > .status-line--muted {
            color: $text-muted;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._sync = ("", False)
        self._mail = ("", False)

    def show_sync(self, text: str, *, problem: bool = False) -> None:
        """The sync part (for the PMS sync's status)."""
        self._set("_sync", (one_line(text), problem))

    def show_mail(self, counts: Mapping[OutboxStatus, int], key: str) -> None:
        """The outbox part, from the counts per status; ``key`` opens the outbox."""
        text, problem = mail_status(counts, key)
        self._set("_mail", (one_line(text), problem))

    def _set(self, part: str, value: tuple[str, bool]) -> None:
        if getattr(self, part) != value:
            setattr(self, part, value)
            self.refresh()

    @property
    def sync_text(self) -> str:
        """What the sync part says now (for tests and screen readers)."""
        return self._sync[0]

    @property
    def sync_problem(self) -> bool:
        """The sync part is shown as a problem."""
        return self._sync[1]

    @property
    def mail_text(self) -> str:
        """What the outbox part says now (for tests and screen readers)."""
        return self._mail[0]

    @property
    def mail_problem(self) -> bool:
        """The outbox part is shown as a problem."""
        return self._mail[1]

    def render_line(self, y: int) -> Strip:
        """`` sync text…  mail text ``."""
        base = self.rich_style
        problem = base + self.get_component_rich_style(PROBLEM)
        muted = base + self.get_component_rich_style(MUTED)
        width = self.size.width
        sync, sync_problem = self._sync
        mail, mail_problem = self._mail
        mail_width = min(width, cell_len(mail) + 2)
        sync_width = max(0, width - mail_width)
        segments = [
            Segment(" ", base),
            Segment(fit(sync, sync_width - 2), problem if sync_problem else base),
            Segment("  ", base),
            Segment(fit(mail, mail_width - 2), problem if mail_problem else muted),
            Segment(" ", base),
        ]
        if sync_width < 2:  # no room for the sync part at all
            segments = [Segment(" ", base), *segments[3:]]
        return Strip(segments).crop(0, width).adjust_cell_length(width, base)
