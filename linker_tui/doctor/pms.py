"""``doctor``'s PMS and inbox sections: the PMS source (CSV export folder or Open
Dental), the last sync and its problems, the request inbox."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from linker_tui.doctor.report import Report, first_line
from linker_tui.settings.config import Settings
from linker_tui.sync.configure import connector as pms_connector
from linker_tui.sync.control import StopFlag
from linker_tui.sync.queries import latest_runs, sync_problems, sync_status

PROBLEMS_SHOWN = 5


def check_pms(report: Report, settings: Settings, engine: Engine | None, demo: bool) -> None:
    """The configured source, then what the last runs say."""
    if settings.pms == "open_dental":
        _open_dental(report, settings)
    elif settings.pms_export_dir is None:
        report.fail(
            "source",
            "no PMS source is configured: nothing is synced",
            "set pms_export_dir to the folder the PMS exports to (docs/sync.md)",
        )
    else:
        _export_folder(report, settings, settings.pms_export_dir.expanduser(), demo)
    if engine is None:
        report.info("last sync", "unknown: no usable database (see above)")
        return
    _last_sync(report, settings, engine)


def _export_folder(report: Report, settings: Settings, folder: Path, demo: bool) -> None:
    if not folder.is_dir():
        report.fail("export folder", f"{folder} does not exist", "check pms_export_dir")
        return
    if not os.access(folder, os.R_OK | os.X_OK):
        report.fail("export folder", f"{folder} cannot be read by this user")
        return
    files = [p for p in folder.iterdir() if p.suffix.lower() == ".csv"]
    if not files:
        report.fail("export folder", f"{folder} holds no .csv export")
        return
    when = datetime.fromtimestamp(max(p.stat().st_mtime for p in files), UTC)
    report.ok("export folder", f"{folder}: {len(files)} CSV file(s)")
    if demo:
        report.info("last export", f"{when:%Y-%m-%d} (the demo's, dates moved on)")
    else:
        _age(report, "last export", when, datetime.now(UTC) - when, settings)


def _last_sync(report: Report, settings: Settings, engine: Engine) -> None:
    status = sync_status(engine, datetime.now(UTC))
    success = status.last_success
    if success is None:
        report.warn("last good sync", "none yet", "run linker-tui sync")
    else:
        age = datetime.now(UTC) - success.started_at
        _age(report, "last good sync", success.started_at, age, settings, success.text())
    runs = latest_runs(engine, 1)
    if runs and runs[0].problems and runs[0].run_id is not None:
        shown = sync_problems(engine, runs[0].run_id, limit=PROBLEMS_SHOWN)
        report.warn(
            "last run's problems",
            f"{runs[0].problems}: " + "; ".join(str(p) for p in shown),
            "linker-tui sync --runs 5, or the Sync runs screen (Y)",
        )
    if status.failing and status.last_run is not None:
        report.fail("last run", status.last_run.text())


def _open_dental(report: Report, settings: Settings) -> None:
    """Open Dental's database: reachable and readable (the connector reads its change
    marks, as every sync starts)."""
    source = pms_connector(settings)
    assert source is not None
    try:
        source.cursor(StopFlag())
    except Exception as exc:
        report.fail(
            "Open Dental",
            f"{source.source}: {first_line(exc)}",
            "is the Open Dental server reachable, and may open_dental_url's user read "
            "its tables? (docs/sync.md, Open Dental)",
        )
    else:
        report.ok("Open Dental", f"{source.source} reachable and readable")


def _age(
    report: Report, name: str, when: datetime, age: timedelta, settings: Settings, extra: str = ""
) -> None:
    text = f"{when.astimezone(settings.tz):%Y-%m-%d %H:%M} ({_ago(age)})"
    if extra:
        text = f"{text} · {extra}"
    if age > settings.sync_stale_after:
        report.warn(name, text, f"older than {settings.sync_stale_after} (sync_stale_minutes)")
    else:
        report.ok(name, text)


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min ago"
    return f"{minutes // (24 * 60)} days ago"


def check_inbox(report: Report, settings: Settings) -> None:
    """The request inbox: there (or can be made), writable; files waiting and set aside."""
    folder = settings.effective_inbox_dir.expanduser()
    if not folder.is_dir():
        parent = next((p for p in folder.parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK | os.X_OK):
            report.warn("folder", f"{folder} does not exist yet (the next sync creates it)")
        else:
            report.fail("folder", f"{folder} does not exist and cannot be created here")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-", suffix=".tmp"):
            pass
    except OSError as exc:
        report.fail("folder", f"{folder} is not writable: {exc.strerror}")
    else:
        report.ok("folder", f"{folder} readable and writable")
    waiting = list(folder.glob("*.json"))
    rejected = list((folder / "rejected").glob("*")) if (folder / "rejected").is_dir() else []
    report.info("waiting", f"{len(waiting)} request file(s) not imported yet")
    if rejected:
        report.warn("rejected", f"{len(rejected)} file(s) in {folder / 'rejected'}")
    else:
        report.ok("rejected", "none")
