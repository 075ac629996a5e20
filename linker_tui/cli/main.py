"""The ``linker-tui`` command: one sub-command per module, dispatched by argparse
(``set_defaults(func=...)``).

The app (``linker-tui`` alone, or ``run``) is what staff wait for: the subcommands'
modules (audit, db, demo, doctor, outbox, match, sync) are imported only when their
command is given (or ``--help`` lists them all).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from linker_tui import __version__
from linker_tui.common.files import storage_problem
from linker_tui.common.outage import DatabaseUnavailable, exit_when_unavailable
from linker_tui.common.text import clean, dumps_json
from linker_tui.logs import setup_logging
from linker_tui.services import Services
from linker_tui.settings.config import ConfigError, Settings, load_settings
from linker_tui.store.db import make_engine
from linker_tui.store.schema import SchemaMismatch

log = logging.getLogger(__name__)

EX_CONFIG = 2
"""Exit status when the settings are wrong or the database's schema is not this version's."""

Command = Callable[[argparse.Namespace, Settings], int]


def _with_services(command: Callable[[argparse.Namespace, Services], int]) -> Command:
    """A command that needs the database at this version's schema."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            services = Services.open(settings)
        except SchemaMismatch as exc:
            print(f"linker-tui: {exc}", file=sys.stderr)
            return EX_CONFIG
        except DatabaseUnavailable:
            raise  # one line, exit 69 (linker_tui.common.outage)
        except (OSError, SQLAlchemyError) as exc:  # read-only, full, locked: one line
            status, message = storage_problem(exc)
            print(f"linker-tui: {message}", file=sys.stderr)
            return status
        return command(args, services)

    return run


SUBCOMMANDS: dict[str, tuple[str, str, Callable[[ModuleType], Command]]] = {
    "outbox": (
        "linker_tui.cli.mail",
        "add_outbox_parser",
        lambda m: _with_services(lambda args, s: m.run_outbox_command(s, args)),
    ),
    "match": (
        "linker_tui.cli.match",
        "add_match_parser",
        lambda m: _with_services(
            lambda args, s: m.run_match_command(s.engine, s.settings.phone_region, args)
        ),
    ),
    "audit": (
        "linker_tui.cli.audit",
        "add_audit_parser",
        lambda m: _with_services(
            lambda args, s: m.run_audit_command(args, s.engine, s.settings.tz)
        ),
    ),
    "sync": (
        "linker_tui.cli.sync",
        "add_sync_parser",
        lambda m: _with_services(lambda args, s: m.run_sync_command(s, args)),
    ),
    "db": ("linker_tui.cli.db", "add_db_parser", lambda m: m.run_db_command),
    "staff-pin": ("linker_tui.cli.staff", "add_staff_pin_parser", lambda m: m.run_staff_pin),
    "doctor": ("linker_tui.doctor", "add_doctor_parser", lambda m: m.run_doctor_command),
}
"""Subcommand → (module, the function adding its parser, its command from the module)."""


def _wanted(argv: Sequence[str]) -> str | None:
    """The command ``argv`` asks for (``run`` when none); None when every subcommand's
    parser is needed (``--help``, or a word that is no command: argparse says so)."""
    words: list[str] = []
    value_of_config = False
    for arg in argv:
        if not value_of_config and not arg.startswith("-"):
            words.append(arg)
        value_of_config = arg == "--config"
    first = words[0] if words else None
    if first is None:
        return None if any(arg in ("-h", "--help") for arg in argv) else "run"
    return first if first in ("run", "demo", *SUBCOMMANDS) else None


def _parser(wanted: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linker-tui",
        description="Link online appointment requests to appointments booked in the PMS.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", type=Path, metavar="PATH", help="settings file (default: LINKER_CONFIG)"
    )
    parser.set_defaults(func=_with_services(_run))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="open the app on the configured database (the default)")
    run.set_defaults(func=_with_services(_run))
    demo = sub.add_parser("demo", help="build a fresh demo database from data/ and open it")
    demo.add_argument("--data", type=Path, help="demo export folder (default: the bundled one)")
    demo.add_argument("--no-tui", action="store_true", help="build the database only")
    demo.set_defaults(func=_demo)
    for name, (module_name, add_parser, command) in SUBCOMMANDS.items():
        if wanted in (None, name):
            module = importlib.import_module(module_name)
            getattr(module, add_parser)(sub)
            sub.choices[name].set_defaults(func=command(module))
    for child in sub.choices.values():
        _config_option_after(child)
    return parser


def _config_option_after(parser: argparse.ArgumentParser) -> None:
    """``--config`` after a (sub-)command works too; it does not undo one given before."""
    parser.add_argument("--config", type=Path, metavar="PATH", default=argparse.SUPPRESS)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _config_option_after(child)


def _run(_args: argparse.Namespace, services: Services) -> int:
    from linker_tui.tui.app import LinkerApp  # the only place the CLI touches the TUI

    LinkerApp(services).run()
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from linker_tui.demo import build_demo, demo_data_dir, demo_settings, read_practice

    folder = args.data or demo_data_dir()
    practice = read_practice(folder)
    today = datetime.now(ZoneInfo(practice.timezone)).date()
    settings = demo_settings(settings, folder, today)
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
    return 0 if args.no_tui else _run(args, services)


def _settings_unusable(args: argparse.Namespace, exc: ConfigError) -> None:
    """Say why the settings cannot be used: one line on stderr, and for a command asked
    for JSON (``--json``) the same as a JSON object on stdout, so tools read it too."""
    message = clean(str(exc))
    print(f"linker-tui: settings: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(dumps_json({"status": "settings unusable", "problems": 1, "error": message}))


@exit_when_unavailable  # database away: one line, exit 69 (linker_tui.common.outage)
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``linker-tui`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(_wanted(argv)).parse_args(argv)
    try:
        settings = load_settings(args.config)  # child processes read the same file
    except ConfigError as exc:
        _settings_unusable(args, exc)
        return EX_CONFIG
    command = args.command or "run"
    setup_logging(settings, command=command)
    try:
        status: int = args.func(args, settings)
    except BrokenPipeError:
        # the reader went away (``linker-tui audit | head``): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception:
        log.exception("linker-tui %s failed", command)
        raise
    log.info("linker-tui %s ended with exit status %s", command, status)
    return status


if __name__ == "__main__":
    sys.exit(main())
