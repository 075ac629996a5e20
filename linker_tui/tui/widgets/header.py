"""The top line: the practice's name and how many requests are in each state."""

from __future__ import annotations

from collections.abc import Mapping

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from linker_tui.models import RequestState
from linker_tui.tui.formatting import count
from linker_tui.tui.safe import one_line

NAME_MINIMUM = 8
"""The name keeps at least this many cells; the counts are cut first below that."""
COUNTS_GAP = 2
BOLD = Style(bold=True)


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


class HeaderBar(Widget):
    """The practice's name on the left (bold, cut first when the line is short) and the
    counts per state on the right; one line, drawn directly (no child widgets)."""

    def __init__(self, practice_name: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.practice_name = practice_name
        self.practice_text = one_line(practice_name)
        """The name as shown: literal text, on one line."""
        self.counts_shown = ""
        """The counts as shown (empty until the first page is loaded)."""

    def show_counts(self, counts: Mapping[RequestState, int]) -> None:
        """Show the counts per state."""
        text = one_line(counts_text(counts))
        if text != self.counts_shown:
            self.counts_shown = text
            self.refresh()

    def render_line(self, y: int) -> Strip:
        """Name, then the counts at the right edge."""
        base = self.rich_style
        width = self.size.width
        counts = self.counts_shown
        name_width = max(NAME_MINIMUM, width - COUNTS_GAP - cell_len(counts))
        segments = [
            Segment(fit(self.practice_text, name_width), base + BOLD),
            Segment(" " * COUNTS_GAP + counts, base),
        ]
        return Strip(segments).crop(0, width).adjust_cell_length(width, base)
