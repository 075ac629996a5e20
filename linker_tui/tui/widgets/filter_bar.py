"""The line under the header: the filter (a hint until it is first used) and which rows
of how many the list shows."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Static

from linker_tui.tui.safe import line, one_line
from linker_tui.tui.widgets.header import fit

LABEL = "Filter:"
HINT = "filter-bar--hint"


class FilterBar(Widget):
    """`` Filter:  / to filter          rows 1\u2013100 of 9,310 · open · [ ] page ``.

    Drawn directly (no child widgets) until staff first filter: then the label, the input
    field and the page status become widgets of their own (:meth:`open_field`), laid out
    the same way."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {HINT}
    DEFAULT_CSS = """
    FilterBar {
        layout: horizontal;
        height: 1;
        & > .filter-bar--hint {
            color: $text-muted;
        }
    }
    """

    def __init__(self, hint: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hint = hint
        self.status_text = ""
        """The page status as shown ("rows 1\u2013100 of 159 · open")."""

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
