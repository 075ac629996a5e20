"""The demo practice: a fresh database built from the export in ``data/``.

The demo data was exported on a fixed date; the loader moves every date forward by
whole weeks so that the demo always looks current (weekdays and times stay the same)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from linker_tui.db import create_schema, drop_schema
from linker_tui.loader import LoadReport, import_request_files, load_export
from linker_tui.pms_export import read_export


@dataclass(frozen=True)
class DemoPractice:
    """The demo practice's details (``data/practice.json``)."""

    name: str
    address: str
    phone: str
    email: str
    timezone: str
    export_date: date


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


def build_demo(engine: Engine, folder: Path, today: date) -> LoadReport:
    """Drop and recreate the schema, then load the demo export and its requests."""
    practice = read_practice(folder)
    tz = ZoneInfo(practice.timezone)
    shift = week_shift(practice.export_date, today)
    drop_schema(engine)
    create_schema(engine)
    report = load_export(engine, read_export(folder, tz, shift))
    requests = import_request_files(engine, (folder / "requests").glob("*.json"), tz, shift)
    report.requests = requests.requests
    report.problems.extend(requests.problems)
    return report
