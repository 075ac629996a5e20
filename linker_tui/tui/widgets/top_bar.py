"""The two lines above the list: the practice's name with the counts per state, and the
filter (a hint until it is first used) with which rows of how many the list shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Static

from linker_tui.models import RequestState
from linker_tui.tui.formatting import count
from linker_tui.tui.safe import line, one_line

NAME_MINIMUM = 8
"""The name keeps at least this many cells; the counts are cut first below that."""
COUNTS_GAP = 2
BOLD = Style(bold=True)
LABEL = "Filter:"
HEADER = "top-bar--header"
HINT = "top-bar--hint"


def counts_text(counts: Mapping[RequestState, int]) -> str:
    """``Pending 31 · Waiting for PMS 2 · Linked 0 · Rejected 0``."""
    return " · ".join(f"{state.label} {count(counts.get(state, 0))}" for state in RequestState)


def fit(text: str, width: int) -> str:
    """``text`` in exactly ``width`` cells: padded, or cut with an ellipsis."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


class TopBar(Widget):
    """Line 1: `` Practice name            Pending 31 · Waiting for PMS 2 · … `` (the name
    bold and cut first when the line is short). Line 2: `` Filter:  / to filter   rows
    1\u2013100 of 9,310 · open · [ ] page ``.

    Both lines are drawn directly (one widget, no children) until staff first filter:
    then the label, the input field and the page status become widgets of their own on
    the second line (:meth:`open_field`), laid out the same way."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {HEADER, HINT}
    DEFAULT_CSS = """
    TopBar {
        layout: horizontal;
        height: 2;
        & > .top-bar--header {
            background: $panel;
        }
        & > .top-bar--hint {
            color: $text-muted;
        }
        & > * {
            margin-top: 1;
        }
    }
    """

    def __init__(self, practice_name: str, hint: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.practice_name = practice_name
        self.practice_text = one_line(practice_name)
        """The name as shown: literal text, on one line."""
        self.counts_shown = ""
        """The counts as shown (empty until the first page is loaded)."""
        self.hint = hint
        self.status_text = ""
        """The page status as shown ("rows 1\u2013100 of 159 · open")."""

    def show_counts(self, counts: Mapping[RequestState, int]) -> None:
        """Show the counts per state."""
        text = one_line(counts_text(counts))
        if text != self.counts_shown:
            self.counts_shown = text
            self.refresh()

    @property
    def field_open(self) -> bool:
        """The input field is there (the filter has been used)."""
        return bool(self.children)

    def show_status(self, text: str) -> None:
        """Which rows of how many are listed."""
        text = one_line(text)
        if text == self.status_text:
            return
        self.status_text = text
        if self.field_open:
            self.query_one("#page-status", Static).update(line(text))
        else:
            self.refresh()

    async def open_field(self, field: Input) -> None:
        """Put the input field in place of the hint (once)."""
        if self.field_open:
            return
        await self.mount(
            Static(Content(LABEL), id="filter-label"),
            field,
            Static(line(self.status_text), id="page-status"),
        )
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """The header on the first line, the filter on the second."""
        return self._header_line() if y == 0 else self._filter_line()

    def _header_line(self) -> Strip:
        base = self.rich_style + self.get_component_rich_style(HEADER)
        width = self.size.width
        counts = self.counts_shown
        inner = width - 2  # a blank at each end
        name_width = max(NAME_MINIMUM, inner - COUNTS_GAP - cell_len(counts))
        segments = [
            Segment(" ", base),
            Segment(fit(self.practice_text, name_width), base + BOLD),
            Segment(" " * COUNTS_GAP + counts, base),
        ]
        return Strip(segments).crop(0, width - 1).adjust_cell_length(width, base)

    def _filter_line(self) -> Strip:
        """Label, hint (muted) and page status, each with a blank on both sides."""
        base = self.rich_style
        width = self.size.width
        if self.field_open:
            return Strip.blank(width, base)
        status = self.status_text
        label_width = cell_len(LABEL) + 2
        status_width = cell_len(status) + 2
        hint_width = max(0, width - label_width - status_width)
        segments = [
            Segment(f" {LABEL}  ", base),
            Segment(fit(self.hint, hint_width - 2), base + self.get_component_rich_style(HINT)),
            Segment(f"  {status} ", base),
        ]
        return Strip(segments).crop(0, width).adjust_cell_length(width, base)
