"""The two lines at the bottom, drawn by the main screen: the status line (PMS sync on
the left, mail outbox on the right) and the keys that apply now."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.cells import cell_len
from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.style import Style

from linker_tui.models import OutboxStatus
from linker_tui.tui.safe import one_line
from linker_tui.tui.widgets.line_styles import LineStyles
from linker_tui.tui.widgets.status import mail_status
from linker_tui.tui.widgets.top_bar import fit


class BottomBar:
    """Line 1: ``Sync …`` on the left, the outbox on the right, each part cut with an
    ellipsis before it wraps. The outbox part takes the room it needs (with a blank on
    each side), the sync part the rest; a part that is a problem is bold in the error
    colour, the outbox part is muted otherwise.

    Line 2: the keys that apply now (from
    :func:`~linker_tui.tui.widgets.keybar.keys_content`), cut with an ellipsis when even
    without the spare keys they do not fit.

    ``refresh(line)`` is called when a line must be drawn again."""

    def __init__(self, *, refresh: Callable[[int], None]) -> None:
        self._sync = ("", False)
        self._mail = ("", False)
        self._keys: Content | None = None
        self._key_strip: tuple[tuple[int, object], Strip] | None = None
        """The key line as last drawn (the keys change far less often than it is drawn)."""
        self._refresh = refresh

    # ------------------------------------------------------------------ status line
    def show_sync(self, text: str, *, problem: bool = False) -> None:
        """The sync part (for the PMS sync's status)."""
        self._set_status("_sync", (one_line(text), problem))

    def show_mail(self, counts: Mapping[OutboxStatus, int], key: str) -> None:
        """The outbox part, from the counts per status; ``key`` opens the outbox."""
        text, problem = mail_status(counts, key)
        self._set_status("_mail", (one_line(text), problem))

    def _set_status(self, part: str, value: tuple[str, bool]) -> None:
        if getattr(self, part) != value:
            setattr(self, part, value)
            self._refresh(0)

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
    def show_keys(self, keys: Content) -> None:
        """The keys that apply now (drawn again only when they changed)."""
        if self._keys is None or (keys.plain, keys.spans) != (self._keys.plain, self._keys.spans):
            self._keys = keys
            self._key_strip = None
            self._refresh(1)

    @property
    def keys_text(self) -> str:
        """The keys as shown (plain text)."""
        return self._keys.plain if self._keys is not None else ""

    # ------------------------------------------------------------------ drawing
    def line(self, y: int, width: int, styles: LineStyles) -> Strip:
        """The status line (``y`` 0) or the key line (1)."""
        return self._status_line(width, styles) if y == 0 else self._key_line(width, styles)

    def _status_line(self, width: int, styles: LineStyles) -> Strip:
        base = styles.base
        sync, sync_problem = self._sync
        mail, mail_problem = self._mail
        mail_width = min(width, cell_len(mail) + 2)
        sync_width = max(0, width - mail_width)
        segments = [
            Segment(" ", base),
            Segment(fit(sync, sync_width - 2), styles.problem if sync_problem else base),
            Segment("  ", base),
            Segment(fit(mail, mail_width - 2), styles.problem if mail_problem else styles.muted),
            Segment(" ", base),
        ]
        if sync_width < 2:  # no room for the sync part at all
            segments = [Segment(" ", base), *segments[3:]]
        return Strip(segments).crop(0, width).adjust_cell_length(width, base)

    def _key_line(self, width: int, styles: LineStyles) -> Strip:
        key = (width, styles.keys)
        if self._key_strip is not None and self._key_strip[0] == key:
            return self._key_strip[1]
        base = styles.keys
        keys = self._keys
        if keys is None:
            strip = Strip.blank(width, base)
        else:
            if keys.cell_length > width:
                keys = keys.truncate(width, ellipsis=True)
            segments = keys.render_segments(Style.from_rich_style(base))
            strip = Strip(segments).adjust_cell_length(width, base)
        self._key_strip = (key, strip)
        return strip
