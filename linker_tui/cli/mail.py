"""``linker-tui outbox send | list | retry ID | cancel ID``.

Exit status of ``send``: 0 all went (or nothing was due), 1 some emails failed for good
in this run, 75 (EX_TEMPFAIL) only temporary problems (queued again, e.g. server down).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from linker_tui.common.text import clean
from linker_tui.mail.report import Outcome
from linker_tui.services import Services, not_sent_note
from linker_tui.store.enums import OutboxStatus
from linker_tui.workflow.outbox_actions import OutboxActionError

EX_TEMPFAIL = 75


def add_outbox_parser(sub: Any) -> None:
    """Register ``outbox`` and its actions on the main parser's subcommands."""
    outbox = sub.add_parser("outbox", help="confirmation emails: send, list, retry, cancel")
    actions = outbox.add_subparsers(dest="outbox_action", metavar="ACTION", required=True)
    actions.add_parser("send", help="send the due emails now (one relay run)")
    listing = actions.add_parser("list", help="list emails: status, attempts, last error")
    listing.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in OutboxStatus],
        help="only this status (repeatable)",
    )
    listing.add_argument("--limit", type=int, default=50, help="at most this many (newest)")
    retry = actions.add_parser("retry", help="queue a failed email again (attempts reset)")
    retry.add_argument("id", type=int)
    cancel = actions.add_parser("cancel", help="cancel a queued or failed email")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--reason", default="", help="kept with the email and in the audit trail")


def run_outbox_command(services: Services, args: argparse.Namespace) -> int:
    """Run ``outbox <action>``; returns the exit status."""
    action = args.outbox_action
    if action == "list":
        return _list(services, args.status, args.limit)
    if action in ("retry", "cancel"):
        try:
            if action == "retry":
                services.retry_email(args.id)
                print(f"email {args.id} queued again")
            else:
                services.cancel_email(args.id, args.reason)
                print(f"email {args.id} cancelled")
        except OutboxActionError as exc:
            print(f"linker-tui: {exc}", file=sys.stderr)
            return 1
        return 0
    return _send(services)


def _send(services: Services) -> int:
    try:
        relay = services.relay()
    except (OSError, ValueError) as exc:  # e.g. an unreadable smtp_password_file
        print(f"linker-tui: cannot set up mail delivery: {exc}", file=sys.stderr)
        return 2
    report = relay.run_once()
    for result in report.results:
        if result.outcome is not Outcome.SENT:
            reason = clean(result.reason, single_line=True)
            print(f"  email {result.outbox_id}: {result.outcome.value}: {reason}", file=sys.stderr)
    print(report.summary())
    written = not_sent_note(services.settings)
    if written and report.sent:
        print(f"those {report.sent} were {written}")
    if report.failed:
        return 1
    if report.retrying or report.stopped:
        return EX_TEMPFAIL
    return 0


def _list(services: Services, statuses: list[str] | None, limit: int) -> int:
    wanted = tuple(OutboxStatus(s) for s in statuses) if statuses else None
    entries = services.outbox_entries(wanted, limit)
    tz = services.settings.tz
    print(f"{'ID':>5}  {'STATUS':<9}  {'TRIES':>5}  {'WHEN (local)':<16}  {'TO':<30}  LAST ERROR")
    for entry in entries:
        if entry.status is OutboxStatus.SENT:
            when = entry.sent_at
        elif entry.status is OutboxStatus.QUEUED:
            when = entry.next_attempt_at
        else:
            when = None
        shown = when.astimezone(tz).strftime("%Y-%m-%d %H:%M") if when else "-"
        to = clean(entry.to_address, single_line=True)[:30]
        error = clean(entry.last_error, single_line=True)
        print(
            f"{entry.id:>5}  {entry.status.value:<9}  {entry.attempts:>5}  {shown:<16}  "
            f"{to:<30}  {error}"
        )
    counts = services.outbox_counts()
    print(", ".join(f"{status.value} {counts[status]}" for status in OutboxStatus))
    return 0
