"""``linker-tui sync``: one sync, headless (cron, a systemd timer), then exit.

Prints the run's summary and its problems (cleaned: a file name or a PMS value cannot drive
the terminal); the exit status is 0 when the run ended ok
(or was skipped because another workstation was syncing), 1 when it failed, 130 when it
was stopped (SIGINT/SIGTERM stop it cleanly: its transaction is rolled back), 69 when the
database cannot be opened or stays locked (linker_tui.common.outage), 74 when the disk fills or a
file cannot be written and 75 when another lock refuses it: one line says so, without a
traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from linker_tui.common.files import storage_problem
from linker_tui.common.outage import DatabaseUnavailable
from linker_tui.common.text import clean
from linker_tui.services import Services
from linker_tui.store.enums import SyncRunStatus
from linker_tui.sync.control import StopFlag
from linker_tui.sync.queries import latest_runs, sync_problems
from linker_tui.sync.summary import SyncSummary


def add_sync_parser(sub: Any) -> None:
    """Register ``sync`` on the ``linker-tui`` sub-command parser."""
    parser = sub.add_parser(
        "sync", help="sync once from the PMS export and the request inbox, print a summary"
    )
    parser.add_argument(
        "--force", action="store_true", help="read the export even if it looks unchanged"
    )
    parser.add_argument(
        "--problems", type=int, default=20, metavar="N", help="list at most N problems (20)"
    )
    parser.add_argument(
        "--runs", type=int, metavar="N", help="do not sync: list the last N runs instead"
    )


def run_sync_command(services: Services, args: argparse.Namespace) -> int:
    """Run ``linker-tui sync``; returns the exit status."""
    if args.runs:
        _list_runs(services, args.runs)
        return 0
    stop = StopFlag()
    try:
        with _stop_on_signals(stop):
            summary = services.sync_now(force=args.force, trigger="cli", stop=stop)
    except DatabaseUnavailable:
        raise  # one line, exit 69 (linker_tui.common.outage)
    except (OSError, SQLAlchemyError) as exc:  # the disk or the database refused
        status, message = storage_problem(exc)
        print(f"linker-tui sync: {message}", file=sys.stderr)
        return status
    _report(services, summary, args.problems)
    if summary.status is SyncRunStatus.CANCELLED:
        return 130
    if summary.status is SyncRunStatus.FAILED:
        return 1
    if services.sync.connector is None:  # the inbox was read; cron must still hear of it
        print(
            "linker-tui sync: no PMS source is configured (set pms_export_dir or pms, see "
            "docs/sync.md): only the request inbox was read",
            file=sys.stderr,
        )
        return 2
    return 0


def _list_runs(services: Services, count: int) -> None:
    """``--runs N``: the last runs, newest first, one line each."""
    for run in latest_runs(services.engine, count):
        when = run.started_at.astimezone(services.settings.tz).strftime("%Y-%m-%d %H:%M:%S")
        print(clean(f"{when} {run.trigger:<8} {run.text()}", single_line=True))


def _report(services: Services, summary: SyncSummary, limit: int) -> None:
    """The run's line and up to ``limit`` of its problems (on stderr when it failed)."""
    stream = sys.stdout if summary.status is not SyncRunStatus.FAILED else sys.stderr
    print(clean(summary.text(), single_line=True), file=stream)
    if summary.run_id is None or not summary.problems or limit <= 0:
        return
    shown = sync_problems(services.engine, summary.run_id, limit=limit)
    for problem in shown:
        print("  " + clean(f"{problem.source}: {problem}", single_line=True), file=stream)
    if summary.problems > len(shown):
        print(f"  ... and {summary.problems - len(shown)} more", file=stream)


@contextmanager
def _stop_on_signals(stop: StopFlag) -> Iterator[None]:
    """SIGINT and SIGTERM stop the run at its next check instead of killing it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
