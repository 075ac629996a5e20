"""The status line above the key bar: background work the receptionist should know about.

Two parts on one line: on the left the PMS sync (issue 3 fills it with
:meth:`StatusLine.show_sync`), on the right the mail outbox ("2 emails failed — m to
see"). Both are plain text built by the app, never markup; a failure is also marked with
``!`` so it shows without colour.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from linker_tui.models import OutboxStatus
from linker_tui.tui.formatting import plural
from linker_tui.tui.safe import line


def mail_status(counts: Mapping[OutboxStatus, int], key: str) -> tuple[str, bool]:
    """The outbox part of the status line and whether it is a problem.

    ``("! 2 emails failed — m to see", True)``, ``("1 email waiting · m mail", False)`` or
    ``("", False)`` when there is nothing to say.
    """
    failed = counts.get(OutboxStatus.FAILED, 0)
    waiting = counts.get(OutboxStatus.QUEUED, 0) + counts.get(OutboxStatus.SENDING, 0)
    if failed:
        return f"! {plural(failed, 'email')} failed — {key} to see", True
    if waiting:
        return f"{plural(waiting, 'email')} waiting to be sent · {key} mail", False
    return "", False


class StatusLine(Horizontal):
    """``Sync …`` on the left, the outbox on the right (one line, cut before it wraps)."""

    def compose(self) -> ComposeResult:
        """The two parts."""
        yield Static(line(""), id="status-sync", markup=False)
        yield Static(line(""), id="status-mail", markup=False)

    def show_sync(self, text: str, *, problem: bool = False) -> None:
        """The sync part (for the PMS sync's status)."""
        part = self.query_one("#status-sync", Static)
        part.update(line(text))
        part.set_class(problem, "-problem")

    def show_mail(self, counts: Mapping[OutboxStatus, int], key: str) -> None:
        """The outbox part, from the counts per status; ``key`` opens the outbox."""
        text, problem = mail_status(counts, key)
        part = self.query_one("#status-mail", Static)
        part.update(line(text))
        part.set_class(problem, "-problem")

    @property
    def mail_text(self) -> str:
        """What the outbox part says now (for tests and screen readers)."""
        content = self.query_one("#status-mail", Static).content
        return str(content)
