"""The mail outbox: every confirmation email, newest first, with retry and cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from linker_tui.mail.queries import OutboxEntry
from linker_tui.services import Services
from linker_tui.store.enums import OutboxStatus
from linker_tui.tui.formatting import count, long_datetime, plural, received
from linker_tui.tui.jobs import MailChanged
from linker_tui.tui.keys import OUTBOX_KEYS, KeySpec, bindings
from linker_tui.tui.messages import OutboxChanged
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.safe import cell, line, lines
from linker_tui.tui.widgets.columns import ColumnSpec
from linker_tui.tui.widgets.keybar import KeyBar
from linker_tui.tui.widgets.record_table import RecordTable
from linker_tui.workflow.outbox_actions import OutboxActionError

ACTION_GROUP = "outbox-action"
LIMIT = 500

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("status", "Status", 9),
    ColumnSpec("request", "Request", 8, weight=1, maximum=12),
    ColumnSpec("to", "To", 12, weight=3, maximum=32),
    ColumnSpec("subject", "Subject", 9, weight=3, maximum=48),
    ColumnSpec("attempts", "Tries", 5),
    ColumnSpec("next", "Next try", 11),
    ColumnSpec("error", "Last error", 10, weight=4),
)

STATUS_TEXT = {
    OutboxStatus.QUEUED: "queued",
    OutboxStatus.SENDING: "sending",
    OutboxStatus.SENT: "sent",
    OutboxStatus.FAILED: "! failed",
    OutboxStatus.CANCELLED: "cancelled",
}
"""Without colour a failure still stands out: ``!``."""

RETRYABLE = frozenset({OutboxStatus.FAILED})
CANCELLABLE = frozenset({OutboxStatus.QUEUED, OutboxStatus.FAILED})
"""What the core allows (``retry_email`` / ``cancel_email``); it checks again when asked."""


def counts_line(entries: Sequence[OutboxEntry]) -> str:
    """``failed 1 · queued 2 · sent 5`` (statuses present only)."""
    parts = []
    for status in (
        OutboxStatus.FAILED,
        OutboxStatus.QUEUED,
        OutboxStatus.SENDING,
        OutboxStatus.SENT,
        OutboxStatus.CANCELLED,
    ):
        n = sum(1 for e in entries if e.status is status)
        if n:
            parts.append(f"{status.value} {count(n)}")
    return " · ".join(parts) if parts else "no emails"


class OutboxTable(RecordTable[OutboxEntry]):
    """The emails, one per row; the row key is the outbox id."""

    COLUMNS = COLUMNS

    def key_of(self, entry: OutboxEntry) -> int | None:
        """The database id."""
        return entry.id

    def cells(self, entry: OutboxEntry, widths: dict[str, int]) -> list[Text]:
        """One cell per column."""
        w = widths
        due = entry.next_attempt_at
        waiting = entry.status in (OutboxStatus.QUEUED, OutboxStatus.SENDING)
        values = {
            "status": STATUS_TEXT[entry.status],
            "request": entry.request_external_id,
            "to": entry.to_address,
            "subject": entry.subject,
            "attempts": str(entry.attempts),
            "next": received(due, self.tz) if waiting and due is not None else "-",
            "error": entry.last_error or "-",
        }
        style = "bold" if entry.status is OutboxStatus.FAILED else ""
        return [cell(values[spec.key], w[spec.key], style) for spec in COLUMNS]


def entry_detail(entry: OutboxEntry | None, tz: ZoneInfo) -> Content:
    """Everything about one email, for the pane under the list (literal text)."""
    if entry is None:
        return line("No emails in the outbox.")
    to = f"{entry.to_name} <{entry.to_address}>" if entry.to_name else entry.to_address
    state = f"{entry.status.value} · {plural(entry.attempts, 'attempt')}"
    if entry.status is OutboxStatus.SENT:
        state += f" · sent {long_datetime(entry.sent_at, tz)}"
    elif entry.status in (OutboxStatus.QUEUED, OutboxStatus.SENDING):
        state += f" · next try {long_datetime(entry.next_attempt_at, tz)}"
    return lines(
        line(
            ("Email ", "bold"),
            (str(entry.id), "bold"),
            f" for {entry.request_external_id} · queued {long_datetime(entry.created_at, tz)}",
        ),
        line(("To: ", "bold"), to),
        line(("Status: ", "bold"), state),
        line(("Last error: ", "bold"), entry.last_error or "-"),
        line(("Subject: ", "bold"), entry.subject),
    )


class OutboxScreen(Screen[None]):
    """Confirmation emails: what was sent, what waits, what failed; retry or cancel."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(OUTBOX_KEYS))
    AUTO_FOCUS = "#outbox"

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.tz = services.settings.tz
        self._bindings_state: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        """Title and counts, the list, the highlighted email, the keys."""
        with Horizontal(id="outbox-header"):
            yield Static(line(("Mail outbox", "bold")), id="outbox-title")
            yield Static(line(""), id="outbox-counts", markup=False)
        yield OutboxTable(self.tz, id="outbox")
        yield Static(line(""), id="outbox-detail", markup=False)
        yield KeyBar(id="outbox-keys")

    def on_mount(self) -> None:
        """Load the list."""
        self.reload()

    @property
    def table(self) -> OutboxTable:
        """The list of emails."""
        return self.query_one(OutboxTable)

    # ---------------------------------------------------------------- loading
    def on_outbox_changed(self, message: OutboxChanged) -> None:
        """An email was queued, sent, retried or cancelled: read the outbox again."""
        self.reload()

    @work(exclusive=True, group="outbox-load", exit_on_error=False)
    async def reload(self) -> None:
        """Read the outbox again (off the UI thread)."""
        entries = await asyncio.to_thread(self.services.outbox_entries, None, LIMIT)
        self.table.show(entries)
        shown = counts_line(entries)
        if len(entries) >= LIMIT:
            shown += f" · newest {count(LIMIT)}"
        self.query_one("#outbox-counts", Static).update(line(shown))
        self._show_current()

    @on(DataTable.RowHighlighted, "#outbox")
    def _highlighted(self) -> None:
        self._show_current()

    def _show_current(self) -> None:
        entry = self.table.current()
        self.query_one("#outbox-detail", Static).update(entry_detail(entry, self.tz))
        state = (None if entry is None else entry.status, self._busy())
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    # ---------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Retry only failed emails, cancel only queued or failed ones."""
        if action in ("retry", "cancel_email"):
            entry = self.table.current() if self.is_mounted else None
            if entry is None:
                return False
            allowed = RETRYABLE if action == "retry" else CANCELLABLE
            return True if entry.status in allowed and not self._busy() else None
        return True

    def _busy(self) -> bool:
        return any(not w.is_finished for w in self.workers if w.group == ACTION_GROUP)

    def action_back(self) -> None:
        """Back to the request list."""
        self.dismiss(None)

    def action_refresh(self) -> None:
        """Read the outbox again."""
        self.reload()

    def action_retry(self) -> None:
        """Send the highlighted failed email again."""
        entry = self.table.current()
        if entry is not None and entry.status in RETRYABLE and not self._busy():
            self._retry(entry)

    def action_cancel_email(self) -> None:
        """Cancel the highlighted queued or failed email (after an OK)."""
        entry = self.table.current()
        if entry is not None and entry.status in CANCELLABLE and not self._busy():
            self._cancel(entry)

    @work(group=ACTION_GROUP, exit_on_error=False)
    async def _retry(self, entry: OutboxEntry) -> None:
        await asyncio.to_thread(self.services.retry_email, entry.id)
        self.notify(
            f"Email to {entry.to_address} queued again; it goes out with the next send.",
            markup=False,
            timeout=8,
        )
        self.app.post_message(MailChanged())
        self.reload()

    @work(group=ACTION_GROUP, exit_on_error=False)
    async def _cancel(self, entry: OutboxEntry) -> None:
        question = line(
            "Cancel the confirmation email for ",
            (entry.request_external_id, "bold"),
            f" to {entry.to_address}? It will not be sent (Retry can bring back a failed "
            "email only).",
        )
        if not await self.app.push_screen_wait(
            Confirm("Cancel this email?", question, "Cancel email")
        ):
            return
        await asyncio.to_thread(
            self.services.cancel_email, entry.id, "cancelled in the outbox screen"
        )
        self.notify(f"Email to {entry.to_address} cancelled.", markup=False, timeout=8)
        self.app.post_message(MailChanged())
        self.reload()

    def palette_actions(self) -> Iterator[KeySpec]:
        """The actions the command palette offers now."""
        for spec in OUTBOX_KEYS:
            if self.check_action(spec.action, ()):
                yield spec

    # ---------------------------------------------------------------- errors
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Refused actions (``OutboxActionError``) and failures become notifications."""
        if event.worker.group == ACTION_GROUP:
            self._bindings_state = None
            self._show_current()
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, OutboxActionError):
            self.notify(str(error), title="Not done", severity="error", markup=False, timeout=15)
        else:
            self.notify(
                f"Something went wrong: {type(error).__name__}: {error}",
                title="Error",
                severity="error",
                markup=False,
                timeout=15,
            )
        if event.worker.group == ACTION_GROUP:
            self.reload()
