"""The two lines under the request list: the status line (PMS sync on the left, mail
outbox on the right) and the keys that apply now."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from linker_tui.store.enums import OutboxStatus
from linker_tui.tui.safe import one_line
from linker_tui.tui.widgets.keybar import KeyBar
from linker_tui.tui.widgets.status import mail_status


class BottomBar(Vertical):
    """Line 1: ``Sync …`` on the left, the outbox on the right, each part cut with an
    ellipsis before it wraps. The outbox part takes the room it needs up to half the line
    (with a blank on each side), the sync part the rest (on a narrow screen both stay
    readable); a part that is a problem is bold in the error
    colour (class ``-problem``), the outbox part is muted otherwise.

    Line 2: the keys that apply now (:class:`~linker_tui.tui.widgets.keybar.KeyBar`)."""

    DEFAULT_CSS = """
    BottomBar {
        height: 2;
        & > #status {
            height: 1;
            padding: 0 1;
        }
        & #sync-status {
            width: 1fr;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        & #mail-status {
            width: auto;
            max-width: 50%;
            padding-left: 2;
            color: $text-muted;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        & #sync-status.-problem, & #mail-status.-problem {
            color: $error;
            text-style: bold;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._sync = ("", False)
        self._mail = ("", False)

    def compose(self) -> ComposeResult:
        """The status line and the key line."""
        with Horizontal(id="status"):
            yield Static(id="sync-status")
            yield Static(id="mail-status")
        yield KeyBar(id="keys")

    # ------------------------------------------------------------------ status line
    def show_sync(self, text: str, *, problem: bool = False) -> None:
        """The sync part (for the PMS sync's status)."""
        value = (one_line(text), problem)
        if value != self._sync:
            self._sync = value
            self._show("#sync-status", value)

    def show_mail(self, counts: Mapping[OutboxStatus, int], key: str, idle: str = "") -> None:
        """The outbox part, from the counts per status; ``key`` opens the outbox; ``idle``:
        what to say when there is nothing else."""
        text, problem = mail_status(counts, key, idle)
        value = (one_line(text), problem)
        if value != self._mail:
            self._mail = value
            self._show("#mail-status", value)

    def _show(self, selector: str, value: tuple[str, bool]) -> None:
        text, problem = value
        part = self.query_one(selector, Static)
        part.set_class(problem, "-problem")
        # The sync part's width does not follow its text: no layout (a layout sends the
        # list's scrollbar again, ~450 bytes, each time "synced 5 s ago" ticks)
        part.update(Content(text), layout=selector == "#mail-status")

    @property
    def sync_text(self) -> str:
        """What the sync part says now (for tests and screen readers)."""
        return self._sync[0]

    @property
    def sync_problem(self) -> bool:
        """The sync part is shown as a problem."""
        return self._sync[1]

    @property
    def mail_text(self) -> str:
        """What the outbox part says now (for tests and screen readers)."""
        return self._mail[0]

    @property
    def mail_problem(self) -> bool:
        """The outbox part is shown as a problem."""
        return self._mail[1]

    @property
    def keys_text(self) -> str:
        """The keys as shown (plain text)."""
        return self.query_one(KeyBar).keys_text
