"""``linker-tui audit``: export the audit trail for a date range (CSV or JSON).

The stored text may hold anything a patient or the PMS sent. CSV is cleaned (control and
invisible characters removed, :func:`~linker_tui.common.text.clean`); JSON is exact, with those
characters as ``\\uXXXX`` escapes; ``--raw`` writes CSV with the exact stored text and
refuses to write it to a terminal.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.common.text import clean, dumps_json
from linker_tui.store.db import read_session
from linker_tui.store.models import AuditEvent, OnlineRequest
from linker_tui.workflow.trail_check import verify_trail

FIELDS = (
    *("id", "at", "db_user", "application_name", "desk_user", "os_user", "workstation"),
    *("desk_at", "action", "request", "before", "after", "detail"),
)
"""``at``, ``db_user`` and ``application_name`` are the database's own record on
PostgreSQL; the desk's say who sat there and its clock (docs/multi-workstation.md)."""


def add_audit_parser(sub: Any) -> None:
    """Register ``audit`` on the CLI's sub-parsers."""
    audit = sub.add_parser("audit", help="export the audit trail for a date range")
    audit.add_argument("--since", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
    audit.add_argument("--until", type=date.fromisoformat, help="last day, inclusive")
    audit.add_argument("--format", choices=("csv", "json"), default="csv")
    audit.add_argument(
        "--verify",
        action="store_true",
        help="check the trail is complete (every change of every request, in order)",
    )
    audit.add_argument(
        "--raw",
        action="store_true",
        help="CSV with the exact stored text, control characters included (not to a terminal;"
        " JSON is always exact)",
    )


def audit_rows(
    engine: Engine, tz: ZoneInfo, since: date | None, until: date | None
) -> Iterator[dict[str, Any]]:
    """Audit events between the practice's local days ``since`` and ``until`` (inclusive)."""
    query = (
        select(AuditEvent, OnlineRequest.external_id)
        .join(OnlineRequest, col(AuditEvent.request_id) == OnlineRequest.id, isouter=True)
        .order_by(col(AuditEvent.id))
    )
    if since is not None:
        query = query.where(col(AuditEvent.at) >= datetime.combine(since, time(0), tzinfo=tz))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=tz)
        query = query.where(col(AuditEvent.at) < end)
    with read_session(engine) as session:
        for event, external_id in session.exec(query):
            yield {
                "id": event.id,
                "at": event.at.isoformat(),
                "db_user": event.db_user,
                "application_name": event.application_name,
                "desk_user": event.desk_user,
                "os_user": event.os_user,
                "workstation": event.workstation,
                "desk_at": event.desk_at.isoformat() if event.desk_at else "",
                "action": event.action,
                "request": external_id or "",
                "before": event.before,
                "after": event.after,
                "detail": event.detail,
            }


def write_audit(rows: Iterator[dict[str, Any]], fmt: str, out: TextIO, *, raw: bool = False) -> int:
    """Write ``rows`` as CSV or a JSON array; returns how many were written. CSV values are
    cleaned unless ``raw``; JSON is exact and escaped."""
    count = 0
    if fmt == "json":
        items = list(rows)
        out.write(dumps_json(items, indent=1))
        out.write("\n")
        return len(items)
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    for row in rows:
        if not raw:
            row = {k: clean(v) if isinstance(v, str) else v for k, v in row.items()}
        writer.writerow(row)
        count += 1
    return count


def run_audit_command(args: argparse.Namespace, engine: Engine, tz: ZoneInfo) -> int:
    """Print the audit trail to standard output; the count goes to standard error.
    ``--verify``: check it instead; exit 1 when something is missing."""
    if args.verify:
        return run_verify(engine)
    if args.since is not None and args.until is not None and args.since > args.until:
        print(
            f"linker-tui audit: --since {args.since} is after --until {args.until}",
            file=sys.stderr,
        )
        return 2
    raw = getattr(args, "raw", False) and args.format == "csv"
    if raw and sys.stdout.isatty():
        print(
            "linker-tui: --raw writes the exact stored text, control characters included, "
            "not to a terminal: "
            "redirect it to a file (linker-tui audit --raw > audit.csv) or use --format json",
            file=sys.stderr,
        )
        return 2
    rows = audit_rows(engine, tz, args.since, args.until)
    count = write_audit(rows, args.format, sys.stdout, raw=raw)
    print(f"{count} audit event(s)", file=sys.stderr)
    return 0


def run_verify(engine: Engine) -> int:
    """``audit --verify``: one line per gap, a summary; 0 when the trail is complete."""
    report = verify_trail(engine)
    for gap in report.gaps:
        print(clean(f"gap: {gap}", single_line=True))
    verdict = "complete" if report.complete else f"{len(report.gaps)} gap(s)"
    print(f"audit trail {verdict}: {report.requests} request(s), {report.events} event(s)")
    return 0 if report.complete else 1
