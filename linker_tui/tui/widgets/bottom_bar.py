"""The two lines under the request list: the status line (PMS sync on the left, mail
outbox on the right) and the keys that apply now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget

from linker_tui.models import OutboxStatus
from linker_tui.tui.safe import one_line
from linker_tui.tui.widgets.keybar import follow_bindings, keys_content
from linker_tui.tui.widgets.status import mail_status
from linker_tui.tui.widgets.top_bar import fit

PROBLEM = "bottom-bar--problem"
MUTED = "bottom-bar--muted"
KEYS = "bottom-bar--keys"


class BottomBar(Widget):
    """Line 1: ``Sync …`` on the left, the outbox on the right, each part cut with an
    ellipsis before it wraps. The outbox part takes the room it needs (with a blank on
    each side), the sync part the rest; a part that is a problem is bold in the error
    colour, the outbox part is muted otherwise.

    Line 2: the keys that apply now (:func:`~linker_tui.tui.widgets.keybar.keys_content`),
    cut with an ellipsis when even without the spare keys they do not fit.

    Both lines are drawn directly, without child widgets."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {PROBLEM, MUTED, KEYS}
    DEFAULT_CSS = """
    BottomBar {
        height: 2;
        & > .bottom-bar--problem {
            color: $error;
            text-style: bold;
        }
        & > .bottom-bar--muted {
            color: $text-muted;
        }
        & > .bottom-bar--keys {
            background: $panel;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._sync = ("", False)
        self._mail = ("", False)
        self._keys: tuple[str, tuple[object, ...]] | None = None
        self._keys_content: Content | None = None
        self._keys_strip: Strip | None = None
        """The key line as last drawn (the keys change far less often than it is drawn)."""

    # ------------------------------------------------------------------ status line
    def show_sync(self, text: str, *, problem: bool = False) -> None:
        """The sync part (for the PMS sync's status)."""
        self._set("_sync", (one_line(text), problem))

    def show_mail(self, counts: Mapping[OutboxStatus, int], key: str) -> None:
        """The outbox part, from the counts per status; ``key`` opens the outbox."""
        text, problem = mail_status(counts, key)
        self._set("_mail", (one_line(text), problem))

    def _set(self, part: str, value: tuple[str, bool]) -> None:
        if getattr(self, part) != value:
            setattr(self, part, value)
            self.refresh()

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

    # ------------------------------------------------------------------ key line
    def on_mount(self) -> None:
        """Follow the screen's bindings."""
        follow_bindings(self, self.show_keys)

    def on_resize(self) -> None:
        """Spare keys come back (or go) with the width."""
        self.show_keys()

    def show_keys(self) -> None:
        """Render the keys of the active bindings (again only when they changed)."""
        if not self.is_attached:  # the screen was closed before this callback ran
            return
        rendered = keys_content(self.screen, self.size.width)
        shown_now = (rendered.plain, tuple(rendered.spans))
        if shown_now != self._keys:
            self._keys = shown_now
            self._keys_strip = None
            self._keys_content = rendered
            self.refresh(Region(0, 1, self.size.width, 1))

    @property
    def keys_text(self) -> str:
        """The keys as shown (plain text)."""
        return self._keys[0] if self._keys else ""

    # ------------------------------------------------------------------ drawing
    def notify_style_update(self) -> None:
        """Styles changed (theme): draw the keys with the new ones."""
        self._keys_strip = None
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        """The status line, then the key line."""
        return self._status_line() if y == 0 else self._key_line()

    def _status_line(self) -> Strip:
        base = self.rich_style
        width = self.size.width
        sync, sync_problem = self._sync
        mail, mail_problem = self._mail
        problem = (
            base + self.get_component_rich_style(PROBLEM) if sync_problem or mail_problem else base
        )
        muted = base + self.get_component_rich_style(MUTED) if mail else base
        mail_width = min(width, cell_len(mail) + 2)
        sync_width = max(0, width - mail_width)
        segments = [
            Segment(" ", base),
            Segment(fit(sync, sync_width - 2), problem if sync_problem else base),
            Segment("  ", base),
            Segment(fit(mail, mail_width - 2), problem if mail_problem else muted),
            Segment(" ", base),
        ]
        if sync_width < 2:  # no room for the sync part at all
            segments = [Segment(" ", base), *segments[3:]]
        return Strip(segments).crop(0, width).adjust_cell_length(width, base)

    def _key_line(self) -> Strip:
        width = self.size.width
        if self._keys_strip is not None and self._keys_strip.cell_length == width:
            return self._keys_strip
        base = self.rich_style + self.get_component_rich_style(KEYS)
        content = self._keys_content
        if content is None:
            strip = Strip.blank(width, base)
        else:
            if content.cell_length > width:
                content = content.truncate(width, ellipsis=True)
            segments = content.render_segments(Style.from_rich_style(base))
            strip = Strip(segments).adjust_cell_length(width, base)
        self._keys_strip = strip
        return strip
