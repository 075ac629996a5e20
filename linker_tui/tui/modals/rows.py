"""The dialogs' tables (appointments, patients): a header and rows of cells, a row cursor.

A Line-API widget (:class:`~textual.scroll_view.ScrollView`, as Textual's ``DataTable``
and the request list are) that looks and answers keys as the ``DataTable`` with a row
cursor it replaces, at a fraction of its cost: a dialog opens with one widget for its
table instead of a ``DataTable`` that renders every cell through Rich, once per frame and
style. Each row becomes one strip per look (plain, cursor, mouse over it), made from its
cells when the row is first drawn at the table's width and kept until the width, the
rows or the styles change.

Keys (as ``DataTable``'s): ↑ ↓ move the cursor, PgUp PgDn a screen, ^Home ^End the first
and last row, Enter chooses the row (:class:`RowTable.Selected`); ← → Home End are the
table's own (they scroll sideways); ← → with nothing to scroll sideways (the columns fit)
are the dialog's: the next or previous button. A click puts the cursor on a row, a click on
the cursor's row chooses it; the row under the mouse is highlighted.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from linker_tui.tui.widgets.columns import GAP, ColumnSpec, fit_widths

HEADER = "row-table--header"
CURSOR = "row-table--cursor"
HOVER = "row-table--hover"
HEADER_HOVER = "row-table--header-hover"
SCROLLBAR = 1
"""Cells kept free for the vertical scrollbar."""


@lru_cache(maxsize=4096)
def _mark(row: int, column: int, *, out_of_bounds: bool = False) -> Style:
    """The meta that marks a cell's place, as ``DataTable`` marks it."""
    if out_of_bounds:
        return Style.from_meta({"row": row, "column": column, "out_of_bounds": True})
    return Style.from_meta({"row": row, "column": column})


def _segments(text: Text, console: Console) -> list[Segment]:
    """``text`` as segments, its own style included (``Text.render`` leaves it out when
    the text has no spans)."""
    if not text.spans:
        return [Segment(text.plain, console.get_style(text.style) if text.style else None)]
    return list(text.render(console))


class RowTable(ScrollView, can_focus=True):
    """Subclasses set :attr:`COLUMNS` and implement :attr:`row_count` and :meth:`cells`;
    they call :meth:`rows_changed` when their rows change."""

    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = ()
    COMPONENT_CLASSES: ClassVar[set[str]] = {HEADER, CURSOR, HOVER, HEADER_HOVER}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "sideways(1)", "Scroll right", show=False),
        Binding("left", "sideways(-1)", "Scroll left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "first", "Top", show=False),
        Binding("ctrl+end", "last", "Bottom", show=False),
        Binding("home", "sideways(0)", "Home", show=False),
        Binding("end", "sideways(2)", "End", show=False),
    ]
    SCOPED_CSS = False  # the -mono / -console rules below start at App
    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .row-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .row-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .row-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .row-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .row-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .row-table--hover {
            background: $block-hover-background;
        }
        & > .row-table--header-hover {
            background: $accent 30%;
        }
    }
    App.-mono RowTable > .row-table--cursor,
    App.-console RowTable > .row-table--cursor {
        text-style: bold reverse;
    }
    App.-mono RowTable:blur > .row-table--cursor,
    App.-console RowTable:blur > .row-table--cursor {
        text-style: reverse;
    }
    """

    class RowMessage(Message):
        """Something happened to row :attr:`row` of :attr:`table`."""

        def __init__(self, table: RowTable, row: int) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> RowTable:
            """The table (for ``@on(..., "#id")``)."""
            return self.table

    class Selected(RowMessage):
        """Enter (or a click on the cursor's row) chose row :attr:`row`."""

    class Highlighted(RowMessage):
        """Keys or the mouse put the cursor on row :attr:`row`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cursor_row = 0
        self.hover_row: int | None = None
        """The row under the mouse (-1: the header), highlighted while the mouse moves."""
        self._show_hover = False
        self._widths: dict[str, int] = {}
        self._drawn_width = -1
        """The width the columns were fitted to (-1: not yet, or the rows changed)."""
        self._strips: dict[tuple[int, bool, bool], Strip] = {}
        """Each row's strip per look (row -1 is the header), for the width drawn."""
        self._base: Style | None = None

    # ------------------------------------------------------------------ rows
    @property
    def row_count(self) -> int:
        """How many rows there are."""
        raise NotImplementedError

    def cells(self, row: int, widths: dict[str, int]) -> list[Text]:
        """Row ``row``'s cells, fitted to ``widths`` (per column key)."""
        raise NotImplementedError

    def fit(self, width: int) -> dict[str, int]:
        """The columns' text widths for a table ``width`` cells wide."""
        return fit_widths(self.COLUMNS, max(0, width - SCROLLBAR))

    def get_row_at(self, row: int) -> list[Text]:
        """Row ``row``'s cells as shown."""
        return self.cells(row, self._widths or self.fit(self.size.width))

    def rows_changed(self, cursor: int = 0) -> None:
        """The rows changed: draw them again, the cursor on row ``cursor``."""
        self._drawn_width = -1
        self._strips.clear()
        self.cursor_row = self._clamped(cursor)
        if self.is_mounted:
            self._size_rows()
            self.refresh()
            self._scroll_to_cursor()

    def on_mount(self) -> None:
        """The scrollable size, before the first layout."""
        self._size_rows()

    def _size_rows(self) -> None:
        size = Size(0, self.row_count + 1)
        if size != self.virtual_size:
            self.virtual_size = size

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """The header and every row (the CSS limits it)."""
        return self.row_count + 1

    def _clamped(self, row: int) -> int:
        return min(max(row, 0), max(self.row_count - 1, 0))

    # ------------------------------------------------------------------ cursor
    def move_cursor(self, *, row: int, animate: bool = False, announce: bool = False) -> None:
        """Put the cursor on ``row`` (kept within the rows), scrolled into view;
        ``announce``: post :class:`Highlighted` (``animate`` is accepted and ignored, as
        nothing here is animated)."""
        old, self.cursor_row = self.cursor_row, self._clamped(row)
        if old != self.cursor_row:
            self.refresh()
        self._scroll_to_cursor()
        if announce and self.row_count:
            self.post_message(self.Highlighted(self, self.cursor_row))

    def _step(self, row: int) -> None:
        self._set_hover(False)
        self.move_cursor(row=row, announce=True)

    def _scroll_to_cursor(self) -> None:
        """Scroll the least needed for the cursor's row to be in view under the header."""
        body = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            top = self.cursor_row
        elif self.cursor_row >= top + body:
            top = self.cursor_row - body + 1
        if top != round(self.scroll_y):
            self.scroll_to(y=top, animate=False, force=True, immediate=True)

    def on_resize(self) -> None:
        """Fit the columns to the new width; keep the cursor in view."""
        self._scroll_to_cursor()

    # ------------------------------------------------------------------ drawing
    def notify_style_update(self) -> None:
        """Styles changed (focus, theme): draw with the new ones."""
        self._strips.clear()
        self._base = None
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        """The header on the first line, then the rows from the scroll position."""
        width = self.size.width
        if width != self._drawn_width:
            self._drawn_width = width
            self._widths = self.fit(width)
            self._strips.clear()
        row = y - 1 + round(self.scroll_y) if y else -1
        if row >= self.row_count:
            return Strip.blank(width, self._base_style())
        hover = self._show_hover and row == self.hover_row
        return self._strip(row, cursor=row == self.cursor_row, hover=hover)

    def _strip(self, row: int, *, cursor: bool, hover: bool) -> Strip:
        key = (row, cursor, hover)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._draw(row, cursor=cursor, hover=hover)
        return strip

    def _draw(self, row: int, *, cursor: bool, hover: bool) -> Strip:
        """One line as ``DataTable`` draws it: each cell in its column's width over the
        row's style and the cursor's or the mouse's, the cursor's text colour over the
        cells' own, the cell's place marked (``row``, ``column`` meta: the same segments,
        the same snapshots); then the row's look to the table's edge."""
        base = self._base_style()
        if row < 0:
            row_style = self.get_component_styles(HEADER).rich_style
            texts = [Text(spec.label) for spec in self.COLUMNS]
        else:
            row_style = base
            texts = self.cells(row, self._widths)
        look = Style()
        if hover:
            look += self.get_component_rich_style(HOVER)
            if row < 0:
                look += self.get_component_rich_style(HEADER_HOVER)
        if cursor:
            look += self.get_component_rich_style(CURSOR)
        post = Style.from_color(color=look.color)
        row_look = row_style + look
        over: dict[Style | None, Style] = {}
        """Each cell style over the row's look, under the cursor's text colour."""
        console = self.app.console
        segments: list[Segment] = []
        used = 0
        for column, (spec, text) in enumerate(zip(self.COLUMNS, texts, strict=True)):
            mark = _mark(row, column)
            width = self._widths[spec.key] + GAP
            for part, style, _ in Segment.adjust_line_length(_segments(text, console), width):
                styled = over.get(style)
                if styled is None:
                    styled = over[style] = row_look + style + post
                segments.append(Segment(part, styled + mark))
            used += width
        width = self.size.width
        edge = _mark(row, 0, out_of_bounds=True)
        segments.append(Segment(" " * max(0, width - used), row_look + edge))
        return Strip(segments).adjust_cell_length(width, base).simplify()

    def _base_style(self) -> Style:
        """The table's own style (kept until the styles change)."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    # ------------------------------------------------------------------ keys
    def action_select_cursor(self) -> None:
        """Enter: choose the cursor's row."""
        self._set_hover(False)
        if self.row_count:
            self.post_message(self.Selected(self, self.cursor_row))

    def action_cursor_up(self) -> None:
        """The row above."""
        self._step(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        """The row below."""
        self._step(self.cursor_row + 1)

    def action_page_down(self) -> None:
        """A screen further down."""
        body = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=round(self.scroll_y) + body, animate=False, force=True, immediate=True)
        self._step(self.cursor_row + body)

    def action_page_up(self) -> None:
        """A screen further up."""
        body = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=round(self.scroll_y) - body, animate=False, force=True, immediate=True)
        self._step(self.cursor_row - body)

    def action_first(self) -> None:
        """The first row."""
        self._step(0)

    def action_last(self) -> None:
        """The last row."""
        self._step(self.row_count - 1)

    def action_sideways(self, where: int) -> None:
        """← →: scroll sideways, and when there is nothing to scroll (the columns fit, as
        they do) the dialog's keys (the next or previous button); Home End: the leftmost
        and rightmost place, always the table's."""
        self._set_hover(False)
        if where in (-1, 1) and not self.allow_horizontal_scroll:
            raise SkipAction
        self.scroll_to(x=self.max_scroll_x if where > 0 else 0, animate=False, immediate=True)

    # ------------------------------------------------------------------ mouse
    def _set_hover(self, shown: bool) -> None:
        if shown != self._show_hover:
            self._show_hover = shown
            self.refresh()

    def _row_at(self, event: events.MouseEvent) -> int | None:
        """The row under the mouse, -1 for the header (``None``: the scrollbar, or below
        the rows)."""
        offset = event.get_content_offset(self)
        if offset is None or offset.x >= self.scrollable_content_region.width:
            return None
        row = offset.y - 1 + round(self.scroll_y) if offset.y else -1
        return row if row < self.row_count else None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """The row under the mouse is highlighted."""
        row = self._row_at(event)
        if row is None:
            self._set_hover(False)
            return
        if row != self.hover_row:
            self.hover_row = row
            self.refresh()
        self._set_hover(True)

    def on_leave(self, event: events.Leave) -> None:
        """The mouse left: no row highlighted."""
        self._set_hover(False)

    def on_click(self, event: events.Click) -> None:
        """A click puts the cursor on the row; a click on the cursor's row chooses it."""
        self._set_hover(True)
        row = self._row_at(event)
        if row is None or row < 0:
            return
        event.stop()
        if row == self.cursor_row:
            self.post_message(self.Selected(self, row))
        else:
            self.move_cursor(row=row, announce=True)
