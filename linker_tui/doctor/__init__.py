"""``linker-tui doctor``: what support needs to know about this desk, top to bottom.

Exit status 0 when nothing failed (warnings allowed), 1 when something failed, 2 when the
doctor cannot run at all (the settings cannot be read: the CLI says why in one line).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from linker_tui.demo import demo_data_dir, demo_settings, read_practice
from linker_tui.doctor.checks import run_checks
from linker_tui.doctor.report import Finding, Level, Report
from linker_tui.settings.config import Settings

__all__ = ["Finding", "Level", "Report", "add_doctor_parser", "run_checks", "run_doctor_command"]


def add_doctor_parser(sub: Any) -> None:
    """Register ``doctor`` on the CLI's sub-parsers."""
    doctor = sub.add_parser(
        "doctor", help="check this desk: settings, database, PMS, inbox, mail, terminal, log"
    )
    doctor.add_argument("--json", action="store_true", help="the report as JSON, for tools")
    doctor.add_argument(
        "--demo", action="store_true", help="check the demo set-up (after linker-tui demo)"
    )


def run_doctor_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print the report; 0 no problems, 1 problems."""
    title, overridden = "", frozenset[str]()
    if args.demo:
        folder = demo_data_dir()
        today = datetime.now(ZoneInfo(read_practice(folder).timezone)).date()
        base, settings = settings, demo_settings(settings, folder, today)
        overridden = frozenset(
            name
            for name in type(settings).model_fields
            if getattr(settings, name) != getattr(base, name)
        )
        title = " · checking the demo set-up"
    report = run_checks(settings, title=title, overridden=overridden)
    if args.json:
        report.write_json(sys.stdout)
    else:
        report.write_text(sys.stdout)
    return report.exit_status()
