"""The request list: one page of rows whose columns fit the width, drawn by the main
screen (:class:`~linker_tui.tui.screens.main.MainScreen`) between the filter line and the
detail pane.

Not a widget of its own: it holds the page, the cursor and the scroll position, and turns
them into one strip per line (header, rows, and a scrollbar column when the rows do not
fit). Every widget on the first frame costs start-up time; a screen that draws its own
lines starts about as fast as an empty Textual app.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import ceil
from zoneinfo import ZoneInfo

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.scrollbar import ScrollBarRender
from textual.strip import Strip

from linker_tui.tui.formatting import received, short_datetime, state_short
from linker_tui.tui.safe import cell
from linker_tui.tui.widgets.columns import GAP, ColumnSpec, fit_widths
from linker_tui.tui.widgets.line_styles import LineStyles
from linker_tui.views import RequestRow

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("received", "Received", 11),
    ColumnSpec("name", "Name", 10, weight=3, maximum=32),
    ColumnSpec("requested", "Requested", 15),
    ColumnSpec("provider", "Provider", 8, weight=2, maximum=24),
    ColumnSpec("reason", "Reason", 8, weight=2, maximum=32),
    ColumnSpec("hint", "Match", 17),
)
STATE_COLUMN = ColumnSpec("state", "State", 8)
WITH_STATE: tuple[ColumnSpec, ...] = (
    *COLUMNS[:-1],
    ColumnSpec("hint", "Match", 11, weight=1, maximum=17),
    STATE_COLUMN,
)
"""With handled requests shown the state column needs room: the match hint may be cut."""
SCROLLBAR = 1
LOADING = "Loading requests…"


class RequestTable:
    """A page of requests with a row cursor, a fixed header line and a scroll position.

    Until the first page arrives it says so ("Loading requests…"). The main screen gives
    it its height (:meth:`resize`), its keys (↑ ↓ PgUp PgDn ^Home ^End) and clicks, and
    draws its lines (:meth:`line`). ``highlighted`` is called when the cursor moves to
    another row (or the rows change under it); ``refresh`` when the list must be drawn
    again."""

    def __init__(
        self,
        tz: ZoneInfo,
        *,
        highlighted: Callable[[], None],
        refresh: Callable[[], None],
    ) -> None:
        self.tz = tz
        self._highlighted = highlighted
        self._refresh = refresh
        self.rows_shown: tuple[RequestRow, ...] = ()
        self.show_state = False
        self.loaded = False
        """A page has been shown (until then the list says it is loading)."""
        self.cursor_row = 0
        self.scroll_y = 0
        """The row shown first under the header."""
        self.width = 0
        self.height = 0
        """The list's size on the screen, header line included."""
        self._widths: dict[str, int] = {}
        self._lines: list[str] = []
        """Each row's text, cells cut and padded to the column widths."""
        self._header = ""
        self._layout_width = -1
        """The width the columns were fitted to (-1: not yet, or the rows changed)."""
        self._bar: tuple[tuple[object, ...], list[Segment]] | None = None

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
        ``keep_index``."""
        self.rows_shown = tuple(rows)
        self.show_state = show_state
        self.loaded = True
        index = min(max(keep_index, 0), max(len(self.rows_shown) - 1, 0))
        if keep_id is not None:
            index = next((i for i, r in enumerate(self.rows_shown) if r.id == keep_id), index)
        self._layout_width = -1
        self.scroll_y = min(self.scroll_y, self.max_scroll_y)
        self._refresh()
        self.move_cursor(row=index, force=True)

    @property
    def row_count(self) -> int:
        """How many rows are listed."""
        return len(self.rows_shown)

    @property
    def columns(self) -> tuple[ColumnSpec, ...]:
        """The columns shown now."""
        return WITH_STATE if self.show_state else COLUMNS

    def current_row(self) -> RequestRow | None:
        """The request under the cursor."""
        if not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    def get_row(self, key: str) -> list[Text]:
        """The cells of the request with id ``key``, as shown (cut to the column widths)."""
        row = next(r for r in self.rows_shown if str(r.id) == key)
        return self._cells(row, self.columns)

    def move_cursor(self, *, row: int, force: bool = False) -> None:
        """Put the cursor on ``row`` (kept within the list) and scroll it into view;
        ``force``: tell the screen about the highlighted row even if the index is the
        same (the rows changed)."""
        last = len(self.rows_shown) - 1
        row = min(max(row, 0), max(last, 0))
        changed = row != self.cursor_row
        self.cursor_row = row
        self._scroll_to_cursor()
        self._refresh()
        if changed or force:
            self._highlighted()

    # ------------------------------------------------------------------ size and scrolling
    def resize(self, width: int, height: int) -> None:
        """The list's new size on the screen (the cursor stays in view)."""
        if (width, height) != (self.width, self.height):
            self.width, self.height = width, height
            self.scroll_y = min(self.scroll_y, self.max_scroll_y)
            self._scroll_to_cursor()

    @property
    def overflows(self) -> bool:
        """The rows do not all fit: a scrollbar is shown at the right edge."""
        return len(self.rows_shown) + 1 > self.height

    @property
    def max_scroll_y(self) -> int:
        """The furthest the list can scroll (the last row at the bottom)."""
        return max(0, len(self.rows_shown) + 1 - self.height)

    def body_height(self) -> int:
        """How many rows are in view under the header."""
        return max(1, self.height - 1)

    def scroll_to(self, top: int) -> None:
        """Show the rows from ``top`` (kept within the list)."""
        top = min(max(top, 0), self.max_scroll_y)
        if top != self.scroll_y:
            self.scroll_y = top
            self._refresh()

    def _scroll_to_cursor(self) -> None:
        """Scroll the least needed for the cursor's row to be in view under the header."""
        top = self.scroll_y
        body = self.body_height()
        if self.cursor_row < top:
            top = self.cursor_row
        elif self.cursor_row >= top + body:
            top = self.cursor_row - body + 1
        self.scroll_to(top)

    # ------------------------------------------------------------------ keys and mouse
    def cursor_up(self) -> None:
        """The row above."""
        self.move_cursor(row=self.cursor_row - 1)

    def cursor_down(self) -> None:
        """The row below."""
        self.move_cursor(row=self.cursor_row + 1)

    def page_down(self) -> None:
        """A screen further down."""
        body = self.body_height()
        self.scroll_to(self.scroll_y + body)
        self.move_cursor(row=self.cursor_row + body)

    def page_up(self) -> None:
        """A screen further up."""
        body = self.body_height()
        self.scroll_to(self.scroll_y - body)
        self.move_cursor(row=self.cursor_row - body)

    def first(self) -> None:
        """The first row."""
        self.move_cursor(row=0)

    def last(self) -> None:
        """The last row."""
        self.move_cursor(row=len(self.rows_shown) - 1)

    def click(self, y: int) -> None:
        """A click on line ``y`` of the list (0: the header) puts the cursor on that row."""
        index = y - 1 + self.scroll_y
        if y >= 1 and 0 <= index < len(self.rows_shown):
            self.move_cursor(row=index)

    # ------------------------------------------------------------------ drawing
    def _content_width(self) -> int:
        return max(0, self.width - SCROLLBAR) if self.overflows else self.width

    def _layout(self) -> None:
        """Fit the columns to the width; prepare the header and each row's text (again
        only when the rows or the width changed)."""
        width = self._content_width()
        if width == self._layout_width:
            return
        self._layout_width = width
        specs = self.columns
        self._widths = fit_widths(specs, max(0, width - SCROLLBAR))
        widths = [self._widths[spec.key] + GAP for spec in specs]
        self._header = "".join(
            set_cell_size(spec.label, width) for spec, width in zip(specs, widths, strict=True)
        )
        self._lines = [
            "".join(
                set_cell_size(text.plain, width)
                for text, width in zip(self._cells(row, specs), widths, strict=True)
            )
            for row in self.rows_shown
        ]

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
        widths = self._widths or fit_widths(specs, max(0, self._content_width() - SCROLLBAR))
        return [cell(values[spec.key], widths[spec.key]) for spec in specs]

    def line(self, y: int, styles: LineStyles, scrollbar: tuple[Style, Style]) -> Strip:
        """Line ``y`` of the list (0: the header), with the scrollbar's cell at the right
        when the rows overflow; ``scrollbar``: its (background, thumb) styles."""
        self._layout()
        width = self._content_width()
        strip = self._content_line(y, width, styles)
        if not self.overflows or self.width <= width:
            return strip
        return Strip([*strip, self._scrollbar(scrollbar)[y]], self.width)

    def _content_line(self, y: int, width: int, styles: LineStyles) -> Strip:
        if y == 0:
            return Strip([Segment(self._header, styles.list_header)]).adjust_cell_length(
                width, styles.list_header
            )
        index = y - 1 + self.scroll_y
        if not self.loaded:
            if index == 0:
                return Strip([Segment(LOADING, styles.list_muted)]).adjust_cell_length(
                    width, styles.list
                )
            return Strip.blank(width, styles.list)
        if not 0 <= index < len(self._lines):
            return Strip.blank(width, styles.list)
        style = styles.cursor if index == self.cursor_row else styles.list
        return Strip([Segment(self._lines[index], style)]).adjust_cell_length(width, style)

    def _scrollbar(self, colours: tuple[Style, Style]) -> list[Segment]:
        """The scrollbar column, one segment per line (Textual's own scrollbar drawing)."""
        virtual = len(self.rows_shown) + 1
        key = (self.height, virtual, self.scroll_y, colours)
        if self._bar is None or self._bar[0] != key:
            back, bar = colours
            window = self.height if self.height < virtual else 0
            render = ScrollBarRender.render_bar(
                size=self.height,
                virtual_size=ceil(virtual),
                window_size=ceil(window),
                position=self.scroll_y,
                thickness=SCROLLBAR,
                vertical=True,
                back_color=back.bgcolor,  # type: ignore[arg-type]
                bar_color=bar.color,  # type: ignore[arg-type]
            )
            # The same drawing as Textual's scrollbar, without its mouse actions (which
            # belong to a scrollbar widget): the list scrolls with the wheel and the keys.
            segments = [
                Segment(s.text, s.style.clear_meta_and_links() if s.style else None)
                for s in render.segments
            ]
            self._bar = (key, segments)
        return self._bar[1]
