"""The request list: one page of rows whose columns fit the width.

A Line-API widget (:class:`~textual.scroll_view.ScrollView`, as Textual's ``DataTable``
and ``OptionList`` are): it draws only the lines in view, one strip per line, from the
page it was given (a page is at most ``queries.PAGE_SIZE`` rows, read in SQL). Textual
gives it its scrollbar (draggable), focus and mouse.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from linker_tui.read.views import RequestRow
from linker_tui.tui.formatting import received, short_datetime, state_short
from linker_tui.tui.safe import cell
from linker_tui.tui.terminal import CONSOLE, CellScrollBarRender
from linker_tui.tui.widgets.columns import GAP, ColumnSpec, fit_widths, fitting_columns

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("received", "Received", 11, drop=3),
    ColumnSpec("name", "Name", 10, weight=3, maximum=32),
    ColumnSpec("requested", "Requested", 15, drop=4),
    ColumnSpec("provider", "Provider", 8, weight=2, maximum=24, drop=2),
    ColumnSpec("reason", "Reason", 8, weight=2, maximum=32, drop=1),
    ColumnSpec("hint", "Match", 17),
)
"""On a narrow screen Reason goes first, then Provider, Received and Requested (the
detail pane shows them all); Name and Match stay (at 60 columns: Received, Name,
Requested, Match)."""
STATE_COLUMN = ColumnSpec("state", "State", 8)
WITH_STATE: tuple[ColumnSpec, ...] = (
    *COLUMNS[:-1],
    ColumnSpec("hint", "Match", 11, weight=1, maximum=17),
    STATE_COLUMN,
)
"""With handled requests shown the state column needs room: the match hint may be cut."""
SCROLLBAR = 1
REPEAT_GAP = 0.1
"""Cursor steps closer than this (s) are a held key's (a keyboard repeats 25-30 times a
second). While a key is held the list scrolls by half a screen when the cursor leaves it
(not by a line: each scroll draws every row again) and the detail pane waits for the
cursor to rest: over a slow link the intermediate states are not all sent
(``tests/benchmarks/bench_slow_link.py``)."""
LOADING = "Loading requests…"

HEADER = "request-list--header"
CURSOR = "request-list--cursor"
MUTED = "request-list--muted"


class RequestList(ScrollView, can_focus=True, inherit_bindings=False):
    """A page of requests with a row cursor and a fixed header line.

    Until the first page arrives it says so ("Loading requests…"). Keys: ↑ ↓ move the
    cursor, PgUp PgDn move it a screen, Home End (or ctrl+Home ctrl+End, which a Linux
    console cannot send) go to the first and last row (ctrl+PgUp/ctrl+PgDn stay with the
    screen: previous/next page). A click puts the cursor on a row; a wheel step scrolls
    one line.

    Without colour (``NO_COLOR``: the ``:nocolor`` pseudo-class) the cursor row is reverse
    video, bold while the list has the keys; the app's CSS does the same on terminals with
    few colours or glyphs (``App.-mono``, ``App.-console``).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {HEADER, CURSOR, MUTED}
    virtual_size = Reactive(Size(0, 0), layout=False)
    """As ``ScrollView``'s, without a layout of the screen on every change of the number
    of rows: :meth:`_fit_scrolling` asks for one only when the scrollbar comes or goes."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "Top", show=False),
        Binding("end,ctrl+end", "last", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    RequestList {
        height: 1fr;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        &:focus {
            background-tint: $foreground 5%;
            & > .request-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .request-list--header {
                background-tint: $foreground 5%;
            }
        }
        & > .request-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .request-list--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .request-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .request-list--muted {
            color: $text-muted;
        }
        &:nocolor > .request-list--cursor {
            text-style: reverse;
        }
        &:nocolor:focus > .request-list--cursor {
            text-style: bold reverse;
        }
    }
    """

    class Highlighted(Message):
        """The cursor moved to another row (or the rows changed under it)."""

        def __init__(self, request_list: RequestList, row: RequestRow | None) -> None:
            super().__init__()
            self.request_list = request_list
            self.row = row

        @property
        def control(self) -> RequestList:
            """The list (for ``@on(..., "#requests")``)."""
            return self.request_list

    def __init__(self, tz: ZoneInfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.rows_shown: tuple[RequestRow, ...] = ()
        self.show_state = False
        self.loaded = False
        """A page has been shown (until then the list says it is loading)."""
        self.cursor_row = 0
        self._widths: dict[str, int] = {}
        self._specs: tuple[ColumnSpec, ...] = ()
        self._lines: list[str | None] = []
        """Each row's text, cells cut and padded to the column widths (None: not made
        yet; a row's text is made when it is first drawn or compared)."""
        self._header = ""
        self._layout_width = -1
        """The width the columns were fitted to (-1: not yet, or the rows changed)."""
        self._styles: tuple[Style, Style, Style, Style] | None = None
        self.stepped_at = 0.0
        """When ↑ or ↓ last moved the cursor (monotonic seconds)."""
        self.held = False
        """The cursor's last move was a held key's step (closer than REPEAT_GAP to the one
        before)."""

    def on_mount(self) -> None:
        """On the Linux console the scrollbar's thumb is drawn in whole cells."""
        if self.app.has_class(CONSOLE):
            # per scrollbar, as ScrollBar's docstring shows (its ClassVar type says otherwise)
            self.vertical_scrollbar.renderer = CellScrollBarRender  # type: ignore[misc]

    # ------------------------------------------------------------------ rows
    def show_rows(
        self,
        rows: Sequence[RequestRow],
        *,
        show_state: bool,
        keep_id: int | None = None,
        keep_index: int = 0,
    ) -> None:
        """Replace the rows; put the cursor on ``keep_id`` if it is still listed, else near
        ``keep_index`` (the owner reads the new current row itself).

        When only some rows' text changed (a sync that changed little or nothing), only
        those rows are drawn again, not the whole list; only the rows in view are
        compared (and their text made: the others' when they come into view)."""
        was = (self.loaded, self.show_state, self._header, self._lines)
        self.rows_shown = tuple(rows)
        self.show_state = show_state
        self.loaded = True
        index = min(max(keep_index, 0), max(len(self.rows_shown) - 1, 0))
        if keep_id is not None:
            index = next((i for i, r in enumerate(self.rows_shown) if r.id == keep_id), index)
        self._layout_width = -1
        self._layout()
        loaded, show_state_was, header, lines = was
        if (
            loaded
            and show_state_was == show_state
            and header == self._header
            and (len(lines) == len(self._lines))
        ):
            top = round(self.scroll_y)
            for row in range(top, min(top + self.body_height(), len(lines))):
                old = lines[row]
                if old is None or old != self._line(row):
                    self._refresh_row(row)
        else:
            self._fit_scrolling()
        self.move_cursor(row=index, announce=False)

    @property
    def row_count(self) -> int:
        """How many rows are listed."""
        return len(self.rows_shown)

    @property
    def columns(self) -> tuple[ColumnSpec, ...]:
        """The columns shown now (those that fit the width)."""
        specs = WITH_STATE if self.show_state else COLUMNS
        return fitting_columns(specs, max(0, self.size.width - SCROLLBAR))

    def current_row(self) -> RequestRow | None:
        """The request under the cursor."""
        if not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    def get_row(self, key: str) -> list[Text]:
        """The cells of the request with id ``key``, as shown (cut to the column widths)."""
        row = next(r for r in self.rows_shown if str(r.id) == key)
        return self._cells(row, self.columns)

    def move_cursor(self, *, row: int, announce: bool = True, held: bool = False) -> None:
        """Put the cursor on ``row`` (kept within the list) and scroll it into view (by
        half a screen when ``held``: a held key's step); ``announce``: post
        :class:`Highlighted` if the cursor is on another row."""
        last = len(self.rows_shown) - 1
        row = min(max(row, 0), max(last, 0))
        old, changed = self.cursor_row, row != self.cursor_row
        self.cursor_row = row
        self.held = held
        if not self._scroll_to_cursor() and changed:
            # Only the two rows whose look changed are drawn again (a scroll draws them all):
            # over SSH a step costs two lines, not the whole list.
            self._refresh_row(old)
            self._refresh_row(row)
        if changed and announce:
            self.post_message(self.Highlighted(self, self.current_row()))

    # ------------------------------------------------------------------ size and scrolling
    def body_height(self) -> int:
        """How many rows are in view under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _layout(self) -> None:
        """Fit the columns to the width and prepare the header; the rows' text is made
        when drawn (again only when the rows or the width changed; no refresh)."""
        width = self.size.width
        if width == self._layout_width:
            return
        self._layout_width = width
        self._specs = specs = self.columns
        self._widths = fit_widths(specs, max(0, width - SCROLLBAR))
        self._header = "".join(
            set_cell_size(spec.label, self._widths[spec.key] + GAP) for spec in specs
        )
        self._lines = [None] * len(self.rows_shown)

    def _line(self, index: int) -> str:
        """Row ``index``'s text, its cells cut and padded to the column widths."""
        text = self._lines[index]
        if text is None:
            specs = self._specs
            cells = self._cells(self.rows_shown[index], specs)
            text = "".join(
                set_cell_size(cell.plain, self._widths[spec.key] + GAP)
                for cell, spec in zip(cells, specs, strict=True)
            )
            self._lines[index] = text
        return text

    def _fit_scrolling(self) -> None:
        """The scrollable size: every row, under the header. The screen is laid out again
        only when the scrollbar comes or goes (``overflow-y: auto``); when only its thumb
        changes (a filter key that finds fewer rows), the bar is told the new size."""
        size = Size(len(self._header), len(self._lines) + 1)
        if size != self.virtual_size:
            self.virtual_size = size
            bar = size.height > self.container_size.height
            if bar != self.show_vertical_scrollbar:
                self.refresh(layout=True)
            elif bar:
                self.vertical_scrollbar.window_virtual_size = size.height
        self.refresh()

    def _cells(self, row: RequestRow, specs: Sequence[ColumnSpec]) -> list[Text]:
        values = {
            "received": received(row.received_at, self.tz),
            "name": row.typed_name,
            "requested": short_datetime(row.requested_start, self.tz),
            "provider": row.requested_provider_name,
            "reason": row.reason,
            "hint": row.match_hint,
            "state": state_short(row.state),
        }
        widths = self._widths or fit_widths(specs, max(0, self.size.width - SCROLLBAR))
        return [cell(values[spec.key], widths[spec.key]) for spec in specs]

    def on_resize(self, event: events.Resize) -> None:
        """Share the new width between the columns (the cursor stays in view)."""
        self._layout()
        self._fit_scrolling()
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> bool:
        """Scroll the least needed for the cursor's row to be in view under the header, or
        half a screen further while a key is held (True: it scrolled, and the whole list is
        drawn again)."""
        top = round(self.scroll_y)
        body = self.body_height()
        further = body // 2 if self.held else 0
        if self.cursor_row < top:
            top = max(0, self.cursor_row - further)
        elif self.cursor_row >= top + body:
            top = min(self.cursor_row - body + 1 + further, max(0, len(self._lines) - body))
        if top == round(self.scroll_y):
            return False
        self.scroll_to(y=top, animate=False, force=True, immediate=True)
        return True

    def _refresh_row(self, index: int) -> None:
        """Draw row ``index`` again, without the scrollbar's cell beside it
        (``refresh_line`` would send that too)."""
        y = self._line_of(index) - round(self.scroll_y)
        self.refresh(Region(0, y, self.scrollable_content_region.width, 1))

    @staticmethod
    def _line_of(index: int) -> int:
        """The line of row ``index`` in the scrollable area (the header is line 0)."""
        return index + 1

    # ------------------------------------------------------------------ drawing
    def notify_style_update(self) -> None:
        """Styles changed (focus, theme): draw with the new ones."""
        self._styles = None
        super().notify_style_update()

    def _get_styles(self) -> tuple[Style, Style, Style, Style]:
        if self._styles is None:
            base = self.rich_style
            self._styles = (
                base,
                base + self.get_component_rich_style(HEADER),
                base + self.get_component_rich_style(CURSOR),
                base + self.get_component_rich_style(MUTED),
            )
        return self._styles

    def render_line(self, y: int) -> Strip:
        """The header on the first line, then the rows from the scroll position."""
        self._layout()  # the first frame may come before the first resize event
        base, header, cursor, muted = self._get_styles()
        width = self.size.width
        if y == 0:
            return Strip([Segment(self._header, header)]).adjust_cell_length(width, header)
        index = y - 1 + round(self.scroll_y)
        if not self.loaded:
            if index == 0:
                return Strip([Segment(LOADING, muted)]).adjust_cell_length(width, base)
            return Strip.blank(width, base)
        if not 0 <= index < len(self._lines):
            return Strip.blank(width, base)
        style = cursor if index == self.cursor_row else base
        return Strip([Segment(self._line(index), style)]).adjust_cell_length(width, style)

    # ------------------------------------------------------------------ keys and mouse
    def action_cursor_up(self) -> None:
        """The row above."""
        self._step(-1)

    def action_cursor_down(self) -> None:
        """The row below."""
        self._step(1)

    def _step(self, by: int) -> None:
        now = time.monotonic()
        held, self.stepped_at = now - self.stepped_at < REPEAT_GAP, now
        self.move_cursor(row=self.cursor_row + by, held=held)

    def action_page_down(self) -> None:
        """A screen further down."""
        body = self.body_height()
        self.scroll_to(y=round(self.scroll_y) + body, animate=False, force=True, immediate=True)
        self.move_cursor(row=self.cursor_row + body)

    def action_page_up(self) -> None:
        """A screen further up."""
        body = self.body_height()
        self.scroll_to(y=round(self.scroll_y) - body, animate=False, force=True, immediate=True)
        self.move_cursor(row=self.cursor_row - body)

    def action_first(self) -> None:
        """The first row."""
        self.move_cursor(row=0)

    def action_last(self) -> None:
        """The last row."""
        self.move_cursor(row=len(self.rows_shown) - 1)

    def on_click(self, event: events.Click) -> None:
        """A click on a row puts the cursor there."""
        index = event.y - 1 + round(self.scroll_y)
        if event.y >= 1 and 0 <= index < len(self.rows_shown):
            self.move_cursor(row=index)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """A wheel step scrolls one line (the cursor stays put)."""
        event.prevent_default()  # not Textual's step (a few lines)
        event.stop()  # nor handled again by the screen
        self.scroll_to(y=round(self.scroll_y) + 1, animate=False, immediate=True)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """A wheel step scrolls one line (the cursor stays put)."""
        event.prevent_default()
        event.stop()
        self.scroll_to(y=round(self.scroll_y) - 1, animate=False, immediate=True)
