"""The status line's texts: background work the receptionist should know about.

Two parts on one line (drawn by :class:`~linker_tui.tui.widgets.bottom_bar.BottomBar`): on
the left the PMS sync ("synced 40 s ago · +3 ~12 appts", or "! sync failed 10:42 — Y to
see"; :func:`sync_status_text`), on the right the mail outbox ("2 emails failed — m to
see"; :func:`mail_status`). Both are plain text built by the app, never markup; a failure
is also marked with ``!`` so it shows without colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from linker_tui.store.enums import OutboxStatus
from linker_tui.sync.queries import SyncStatus
from linker_tui.sync.summary import SyncSummary
from linker_tui.tui.formatting import clock_time, plural


def mail_status(counts: Mapping[OutboxStatus, int], key: str, idle: str = "") -> tuple[str, bool]:
    """The outbox part of the status line and whether it is a problem.

    ``("! 2 emails failed — m to see", True)``, ``("1 email waiting · m mail", False)`` or
    ``(idle, False)`` when there is nothing else to say (``idle``: e.g. "mail is not sent:
    mail_backend = file").
    """
    failed = counts.get(OutboxStatus.FAILED, 0)
    waiting = counts.get(OutboxStatus.QUEUED, 0) + counts.get(OutboxStatus.SENDING, 0)
    if failed:
        return f"! {plural(failed, 'email')} failed — {key} to see", True
    if waiting:
        return f"{plural(waiting, 'email')} waiting to be sent · {key} mail", False
    return idle, False


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
    True)``, ``("! last sync 25 min ago — Y to see", True)`` when the data is stale,
    ``("! 2 rows refused — Y to see · synced just now · no changes", True)`` while the
    export read last holds rows the sync could not import.
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
    if status.refused:  # first: the line is cut at its end on a narrow screen
        refused = f"! {plural(status.refused, 'row')} refused — {runs_key} to see"
        return f"{refused} · {text}", True
    return text, bool(attention)
