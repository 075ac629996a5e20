"""The mail outbox: every confirmation email, newest first: retry, cancel, send again,
and each one as the patient sees it.

With the file backend (``mail_backend = file``) nothing is sent: a delivered email is
"written" (to its ``.eml`` file, whose path the pane shows), never "sent"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from linker_tui.mail.queries import OutboxEntry
from linker_tui.mail.transport import eml_path
from linker_tui.services import Services
from linker_tui.store.enums import OutboxStatus
from linker_tui.tui.formatting import count, long_datetime, plural, received
from linker_tui.tui.jobs import MailChanged
from linker_tui.tui.keys import OUTBOX_KEYS, OUTBOX_PREVIEW, OUTBOX_RESEND, KeySpec, bindings
from linker_tui.tui.messages import OutboxChanged
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.safe import cell, line, lines
from linker_tui.tui.widgets.columns import ColumnSpec
from linker_tui.tui.widgets.detail import CutText
from linker_tui.tui.widgets.keybar import KeyBar
from linker_tui.tui.widgets.record_table import RecordTable
from linker_tui.workflow.outbox_actions import OutboxActionError

ACTION_GROUP = "outbox-action"
LIMIT = 500

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("status", "Status", 9),
    ColumnSpec("request", "Request", 8, weight=1, maximum=12),
    ColumnSpec("to", "To", 12, weight=2, maximum=32),
    ColumnSpec("subject", "Subject", 16, weight=4, maximum=60),
    ColumnSpec("attempts", "Tries", 5),
    ColumnSpec("next", "Next try", 11),
    ColumnSpec("error", "Last error", 10, weight=3),
)
"""At 80 columns the subject keeps 16 cells: with the start all subjects share left out,
enough for the appointment's day."""

SUBJECT_PREFIX_MIN = 12
"""A start shared by every subject is left out of the column (``…`` in its place) when it is
at least this long: what tells the emails apart is at the end (the appointment's time)."""

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
RESENDABLE = frozenset({OutboxStatus.SENT})
"""What the core allows (``retry_email`` / ``cancel_email`` / ``resend_email``); it checks
again when asked."""
EXPLAINED = frozenset({OutboxStatus.SENT})
"""Where Retry and Cancel do not apply but their keys say why (instead of doing nothing)."""


def status_word(status: OutboxStatus, written: bool) -> str:
    """``sent``, or ``written`` when the file backend only wrote the email to a file."""
    return "written" if written and status is OutboxStatus.SENT else status.value


def common_prefix(subjects: Sequence[str]) -> str:
    """The start (whole words) every subject shares when it is worth leaving out: at least
    :data:`SUBJECT_PREFIX_MIN` characters and never a whole subject; else ""."""
    if len(set(subjects)) < 2:
        return ""
    first, last = min(subjects), max(subjects)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    if not prefix.endswith(" "):
        prefix = prefix[: prefix.rfind(" ") + 1]
    return prefix if len(prefix) >= SUBJECT_PREFIX_MIN else ""


def short_subject(subject: str, prefix: str) -> str:
    """The subject without the shared start (``…9:30 AM``)."""
    if prefix and subject.startswith(prefix) and len(subject) > len(prefix):
        return "…" + subject[len(prefix) :]
    return subject


def counts_line(entries: Sequence[OutboxEntry], written: bool = False) -> str:
    """``failed 1 · queued 2 · sent 5`` (statuses present only; ``written`` for sent with
    the file backend)."""
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
            parts.append(f"{status_word(status, written)} {count(n)}")
    return " · ".join(parts) if parts else "no emails"


class OutboxTable(RecordTable[OutboxEntry]):
    """The emails, one per row; the row key is the outbox id."""

    COLUMNS = COLUMNS

    def __init__(self, tz: ZoneInfo, *, written: bool = False, id: str | None = None) -> None:
        super().__init__(tz, id=id)
        self.written = written
        """The file backend: a delivered email is "written", not "sent"."""
        self.subject_prefix = ""
        """The start all listed subjects share (left out of the column)."""

    def show(self, records: Sequence[OutboxEntry]) -> None:
        """Replace the rows (the subjects' shared start is worked out again)."""
        self.subject_prefix = common_prefix([e.subject for e in records])
        super().show(records)

    def key_of(self, entry: OutboxEntry) -> int | None:
        """The database id."""
        return entry.id

    def cells(self, entry: OutboxEntry, widths: dict[str, int]) -> list[Text]:
        """One cell per column."""
        w = widths
        due = entry.next_attempt_at
        waiting = entry.status in (OutboxStatus.QUEUED, OutboxStatus.SENDING)
        values = {
            "status": status_word(entry.status, True)
            if self.written and entry.status is OutboxStatus.SENT
            else STATUS_TEXT[entry.status],
            "request": entry.request_external_id,
            "to": entry.to_address,
            "subject": short_subject(entry.subject, self.subject_prefix),
            "attempts": str(entry.attempts),
            "next": received(due, self.tz) if waiting and due is not None else "-",
            "error": entry.last_error or "-",
        }
        style = "bold" if entry.status is OutboxStatus.FAILED else ""
        return [cell(values[spec.key], w[spec.key], style) for spec in COLUMNS]


def entry_detail(entry: OutboxEntry | None, tz: ZoneInfo, file_dir: Path | None = None) -> Content:
    """Everything about one email, for the pane under the list (literal text).
    ``file_dir``: the file backend's folder (a delivered email was written there, as the
    ``.eml`` file named on the fourth line, and not sent)."""
    if entry is None:
        return line("No emails in the outbox.")
    to = f"{entry.to_name} <{entry.to_address}>" if entry.to_name else entry.to_address
    written = file_dir is not None and entry.status is OutboxStatus.SENT
    state = f"{status_word(entry.status, written)} · {plural(entry.attempts, 'attempt')}"
    fourth = line(("Last error: ", "bold"), entry.last_error or "-")
    if written and file_dir is not None:
        state = f"written {long_datetime(entry.sent_at, tz)} (not sent: mail_backend = file)"
        fourth = line(("File: ", "bold"), str(eml_path(file_dir, entry.message_id)))
    elif entry.status is OutboxStatus.SENT:
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
        fourth,
        line(("Subject: ", "bold"), entry.subject),
    )


class OutboxScreen(Screen[None]):
    """Confirmation emails: what was sent, what waits, what failed; retry, cancel, send
    again, view."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(OUTBOX_KEYS))
    AUTO_FOCUS = "#outbox"

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.tz = services.settings.tz
        self._bindings_state: tuple[object, ...] | None = None
        settings = services.settings
        self.file_dir = settings.effective_outbox_dir if settings.mail_backend == "file" else None
        """The file backend's folder: emails are written there, not sent (None: SMTP)."""

    def compose(self) -> ComposeResult:
        """Title and counts, the list, the highlighted email, the keys."""
        with Horizontal(id="outbox-header"):
            yield Static(line(("Mail outbox", "bold")), id="outbox-title")
            yield Static(line(""), id="outbox-counts", markup=False)
        yield OutboxTable(self.tz, written=self.file_dir is not None, id="outbox")
        yield CutText(line(""), id="outbox-detail", more=f"{self._key(OUTBOX_PREVIEW)}: view")
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
        shown = counts_line(entries, written=self.file_dir is not None)
        if len(entries) >= LIMIT:
            shown += f" · newest {count(LIMIT)}"
        self.query_one("#outbox-counts", Static).update(line(shown))
        self._show_current()

    @on(DataTable.RowHighlighted, "#outbox")
    def _highlighted(self) -> None:
        self._show_current()

    @on(DataTable.RowSelected, "#outbox")
    def _selected(self) -> None:
        """Enter on an email (the list takes Enter before the screen's binding): view it."""
        self.action_preview()

    def _show_current(self) -> None:
        entry = self.table.current()
        detail = entry_detail(entry, self.tz, self.file_dir)
        self.query_one("#outbox-detail", Static).update(detail)
        state = (None if entry is None else entry.status, self._busy())
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    # ---------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Retry only failed emails, cancel only queued or failed ones, send again only
        sent ones; on a sent email Retry and Cancel say why they do not apply."""
        allowed = self._applies(action)
        if allowed is None and action in ("retry", "cancel_email"):
            entry = self.table.current()
            if entry is not None and entry.status in EXPLAINED and not self._busy():
                return True  # the key says why (see ``_why_not``)
        return allowed

    def _applies(self, action: str) -> bool | None:
        """Whether ``action`` does something to the highlighted email now (None: not now)."""
        statuses = {"retry": RETRYABLE, "cancel_email": CANCELLABLE, "resend": RESENDABLE}
        if action not in statuses and action != "preview":
            return True
        entry = self.table.current() if self.is_mounted else None
        if entry is None:
            return False
        if action == "preview":
            return True
        return True if entry.status in statuses[action] and not self._busy() else None

    def _busy(self) -> bool:
        return any(not w.is_finished for w in self.workers if w.group == ACTION_GROUP)

    def action_back(self) -> None:
        """Back to the request list."""
        self.dismiss(None)

    def action_refresh(self) -> None:
        """Read the outbox again."""
        self.reload()

    def action_retry(self) -> None:
        """Send the highlighted failed email again (on a sent one: say why not)."""
        entry = self.table.current()
        if entry is not None and entry.status in RETRYABLE and not self._busy():
            self._retry(entry)
        elif entry is not None and entry.status in EXPLAINED:
            self._why_not(entry, "retried: Retry is for a failed email")

    def action_cancel_email(self) -> None:
        """Cancel the highlighted queued or failed email (after an OK); on a sent one: say
        why not."""
        entry = self.table.current()
        if entry is not None and entry.status in CANCELLABLE and not self._busy():
            self._cancel(entry)
        elif entry is not None and entry.status in EXPLAINED:
            self._why_not(entry, "cancelled: the patient has it already")

    def _key(self, spec: KeySpec) -> str:
        keys = spec.current_keys(self.services.settings.keys)
        return self.app.get_key_display(Binding(keys[0], spec.action)) if keys else "?"

    def _why_not(self, entry: OutboxEntry, what: str) -> None:
        done = status_word(entry.status, self.file_dir is not None)
        key = self._key(OUTBOX_RESEND)
        self.notify(
            f"This email was {done} {long_datetime(entry.sent_at, self.tz)}; it cannot be "
            f"{what}. {key} sends it again (as a new email).",
            title="Nothing to do",
            markup=False,
            timeout=10,
        )

    def action_resend(self) -> None:
        """Send the highlighted sent email again, as a new email (after an OK)."""
        entry = self.table.current()
        if entry is not None and entry.status in RESENDABLE and not self._busy():
            self._resend(entry)

    def action_preview(self) -> None:
        """The highlighted email as the patient sees it."""
        from linker_tui.tui.screens.email_preview import EmailPreviewScreen

        entry = self.table.current()
        if entry is not None:
            self.app.push_screen(EmailPreviewScreen(self.services, entry.id))

    @work(group=ACTION_GROUP, exit_on_error=False)
    async def _resend(self, entry: OutboxEntry) -> None:
        question = line(
            "Send the confirmation email for ",
            (entry.request_external_id, "bold"),
            f" to {entry.to_address} again? A new email with the same text goes out; the "
            "one sent stays in the list as it is.",
        )
        if not await self.app.push_screen_wait(
            Confirm("Send this email again?", question, "Send again")
        ):
            return
        new_id = await asyncio.to_thread(self.services.resend_email, entry.id)
        self.notify(
            f"Email to {entry.to_address} queued again as email {new_id}; it goes out with "
            "the next send.",
            markup=False,
            timeout=8,
        )
        self.app.post_message(MailChanged())
        self.reload()

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
            if self._applies(spec.action):
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
