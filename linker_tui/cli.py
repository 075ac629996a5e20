"""The ``linker-tui`` command.

The app (``linker-tui`` alone, or ``run``) is what staff wait for: the subcommands'
modules (audit, db, demo, outbox, match, sync) are imported only when their command is
given (or ``--help`` lists them all).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from linker_tui import __version__
from linker_tui.config import Settings
from linker_tui.db import make_engine
from linker_tui.outage import exit_when_unavailable
from linker_tui.schema import SchemaMismatch
from linker_tui.services import Services

SUBCOMMANDS = {
    "outbox": ("linker_tui.mail.cli", "add_outbox_parser"),
    "match": ("linker_tui.match_cli", "add_match_parser"),
    "audit": ("linker_tui.audit_cli", "add_audit_parser"),
    "sync": ("linker_tui.sync.cli", "add_sync_parser"),
    "db": ("linker_tui.db_cli", "add_db_parser"),
}
"""Subcommand → (module, the function adding its parser)."""


def _wanted(argv: Sequence[str]) -> str | None:
    """The command ``argv`` asks for (``run`` when none); None when every subcommand's
    parser is needed (``--help``, or a word that is no command: argparse says so)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    if first is None:
        return None if any(arg in ("-h", "--help") for arg in argv) else "run"
    return first if first in ("run", "demo", *SUBCOMMANDS) else None


def _parser(wanted: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linker-tui",
        description="Link online appointment requests to appointments booked in the PMS.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="open the app on the configured database (the default)")
    demo = sub.add_parser("demo", help="build a fresh demo database from data/ and open it")
    demo.add_argument("--data", type=Path, help="demo export folder (default: the bundled one)")
    demo.add_argument("--no-tui", action="store_true", help="build the database only")
    for name, (module, add_parser) in SUBCOMMANDS.items():
        if wanted in (None, name):
            getattr(importlib.import_module(module), add_parser)(sub)
    return parser


def _run_app(services: Services) -> int:
    from linker_tui.tui.app import LinkerApp  # the only place the CLI touches the TUI

    LinkerApp(services).run()
    return 0


def _demo(settings: Settings, folder: Path | None, open_app: bool) -> int:
    from linker_tui.demo import build_demo, demo_data_dir, read_practice, week_shift

    folder = folder or demo_data_dir()
    practice = read_practice(folder)
    demo_dir = settings.data_dir / "demo"
    today = datetime.now(ZoneInfo(practice.timezone)).date()
    settings = settings.with_overrides(
        pms_export_dir=folder,  # the app's own syncs read the same export
        inbox_dir=demo_dir / "inbox",
        demo_shift_days=week_shift(practice.export_date, today).days,
        database_url=f"sqlite:///{demo_dir / 'demo.db'}",
        outbox_dir=demo_dir / "outbox",
        practice_name=practice.name,
        practice_address=practice.address,
        practice_phone=practice.phone,
        practice_email=practice.email,
        practice_timezone=practice.timezone,
    )
    engine = make_engine(settings.effective_database_url)
    shutil.rmtree(settings.effective_inbox_dir, ignore_errors=True)  # a fresh demo inbox too
    # build_demo drops and recreates the schema (current revision) before Services.open
    report = build_demo(engine, folder, today, inbox_dir=settings.effective_inbox_dir)
    services = Services.open(settings, engine=engine, demo=True)
    print(
        f"Demo database {settings.effective_database_url}: {report.providers} providers, "
        f"{report.patients} patients, {report.appointments} appointments, "
        f"{report.requests} requests."
    )
    for problem in report.problems:
        print(f"  skipped {problem}", file=sys.stderr)
    return _run_app(services) if open_app else 0


@exit_when_unavailable  # database away: one line, exit 69 (linker_tui.outage)
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``linker-tui`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(_wanted(argv)).parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"linker-tui: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "demo":
        return _demo(settings, args.data, open_app=not args.no_tui)
    if args.command == "db":
        from linker_tui.db_cli import run_db_command

        return run_db_command(args, settings)
    try:
        services = Services.open(settings)
    except SchemaMismatch as exc:
        print(f"linker-tui: {exc}", file=sys.stderr)
        return 2
    if args.command == "audit":
        from linker_tui.audit_cli import run_audit_command

        return run_audit_command(args, services.engine, settings.tz)
    if args.command == "match":
        from linker_tui.match_cli import run_match_command

        return run_match_command(services.engine, settings.phone_region, args)
    if args.command == "outbox":
        from linker_tui.mail.cli import run_outbox_command

        return run_outbox_command(services, args)
    if args.command == "sync":
        from linker_tui.sync.cli import run_sync_command

        return run_sync_command(services, args)
    return _run_app(services)


if __name__ == "__main__":
    sys.exit(main())
