"""The demo practice: a fresh database built from the export in ``data/``.

The demo goes through the real sync: ``data/`` is read as a PMS export folder by the CSV
connector, and the request files are copied into an inbox and imported from there.
The demo data was exported on a fixed date; every date is moved forward by whole weeks
so that the demo always looks current (weekdays and times stay the same)."""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from linker_tui.common.actor import Actor
from linker_tui.common.clock import SystemClock
from linker_tui.ingest.pms_export import ExportFormat, RowProblem
from linker_tui.settings.config import Settings
from linker_tui.store.schema import create_schema, drop_schema
from linker_tui.sync.csv_folder import CsvFolderConnector
from linker_tui.sync.engine import SyncEngine, SyncOptions
from linker_tui.sync.inbox import RequestInbox
from linker_tui.sync.queries import sync_problems


@dataclass(frozen=True)
class DemoPractice:
    """The demo practice's details (``data/practice.json``)."""

    name: str
    address: str
    phone: str
    email: str
    timezone: str
    export_date: date


@dataclass
class LoadReport:
    """What building the demo wrote, and the rows the sync refused."""

    providers: int = 0
    patients: int = 0
    appointments: int = 0
    requests: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def demo_data_dir() -> Path:
    """The demo export: ``data/`` of a checkout, or the copy installed with the package."""
    return Path(str(files("linker_tui.demo_data")))


def read_practice(folder: Path) -> DemoPractice:
    """Read ``practice.json`` from the demo folder."""
    raw = json.loads((folder / "practice.json").read_text(encoding="utf-8"))
    return DemoPractice(
        name=raw["name"],
        address=raw.get("address", ""),
        phone=raw.get("phone", ""),
        email=raw.get("email", ""),
        timezone=raw["timezone"],
        export_date=date.fromisoformat(raw["export_date"]),
    )


def week_shift(export_date: date, today: date) -> timedelta:
    """Whole weeks from the export date to ``today`` (never negative)."""
    weeks = max(0, (today - export_date).days // 7)
    return timedelta(weeks=weeks)


def demo_settings(settings: Settings, folder: Path, today: date) -> Settings:
    """The demo's settings: its own database, inbox and outbox under ``data_dir/demo``, the
    practice of ``practice.json``, and the app's syncs reading the demo export."""
    practice = read_practice(folder)
    demo_dir = settings.data_dir / "demo"
    return settings.with_overrides(
        pms_export_dir=folder,
        inbox_dir=demo_dir / "inbox",
        demo_shift_days=week_shift(practice.export_date, today).days,
        database_url=f"sqlite:///{demo_dir / 'demo.db'}",
        outbox_dir=demo_dir / "outbox",
        mail_backend="file",
        practice_name=practice.name,
        practice_address=practice.address,
        practice_phone=practice.phone,
        practice_email=practice.email,
        practice_timezone=practice.timezone,
    )


def build_demo(
    engine: Engine, folder: Path, today: date, *, inbox_dir: Path | None = None
) -> LoadReport:
    """Drop and recreate the schema, then sync the demo export and its requests.

    The request files are copied into ``inbox_dir`` (a temporary folder by default) and
    imported from there (they end up in its ``processed/``). Raises RuntimeError if the
    sync fails.
    """
    practice = read_practice(folder)
    tz = ZoneInfo(practice.timezone)
    shift = week_shift(practice.export_date, today)
    drop_schema(engine)
    create_schema(engine)
    holder = tempfile.TemporaryDirectory() if inbox_dir is None else nullcontext(str(inbox_dir))
    with holder as inbox_name:
        inbox = Path(inbox_name)
        inbox.mkdir(parents=True, exist_ok=True)
        for path in sorted((folder / "requests").glob("*.json")):
            shutil.copy2(path, inbox / path.name)
        sync = SyncEngine(
            engine,
            SystemClock(),
            Actor.current(),
            SyncOptions(tz),
            connector=CsvFolderConnector(folder, ExportFormat(tz, shift)),
            inbox=RequestInbox(inbox, tz, shift=shift),
        )
        summary = sync.run(trigger="demo", force=True)
    if not summary.ok or summary.run_id is None:
        raise RuntimeError(f"the demo sync failed: {summary.text()}")
    return LoadReport(
        providers=summary.detail.get("providers_inserted", 0),
        patients=summary.detail.get("patients_inserted", 0),
        appointments=summary.detail.get("appointments_inserted", 0),
        requests=summary.requests_imported,
        problems=[
            RowProblem(p.file, p.line, p.reason) for p in sync_problems(engine, summary.run_id)
        ],
    )
