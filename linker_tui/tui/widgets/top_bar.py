"""The two lines above the list, drawn by the main screen: the practice's name with the
counts per state, and the filter (a hint until it is first used) with which rows of how
many the list shows."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from linker_tui.models import RequestState
from linker_tui.tui.formatting import count
from linker_tui.tui.safe import one_line
from linker_tui.tui.widgets.line_styles import LineStyles

NAME_MINIMUM = 8
"""The name keeps at least this many cells; the counts are cut first below that."""
COUNTS_GAP = 2
BOLD = Style(bold=True)
LABEL = "Filter:"


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


class TopBar:
    """Line 1: `` Practice name            Pending 31 · Waiting for PMS 2 · … `` (the name
    bold and cut first when the line is short). Line 2: `` Filter:  / to filter   rows
    1\u2013100 of 9,310 · open · [ ] page ``; once staff filter, the screen lays the input
    field (label, field, page status) over this line, which is then left blank.

    ``refresh(line)`` is called when a line must be drawn again."""

    def __init__(self, practice_name: str, hint: str, *, refresh: Callable[[int], None]) -> None:
        self.practice_name = practice_name
        self.practice_text = one_line(practice_name)
        """The name as shown: literal text, on one line."""
        self.counts_shown = ""
        """The counts as shown (empty until the first page is loaded)."""
        self.hint = hint
        self.status_text = ""
        """The page status as shown ("rows 1\u2013100 of 159 · open")."""
        self.field_open = False
        """The input field is laid over the filter line (the filter has been used)."""
        self._refresh = refresh

    def show_counts(self, counts: Mapping[RequestState, int]) -> None:
        """Show the counts per state."""
        text = one_line(counts_text(counts))
        if text != self.counts_shown:
            self.counts_shown = text
            self._refresh(0)

    def show_status(self, text: str) -> bool:
        """Which rows of how many are listed; False if it is what is shown already."""
        text = one_line(text)
        if text == self.status_text:
            return False
        self.status_text = text
        self._refresh(1)
        return True

    def line(self, y: int, width: int, styles: LineStyles) -> Strip:
        """The header (``y`` 0) or the filter line (1)."""
        return self._header_line(width, styles.top) if y == 0 else self._filter_line(width, styles)

    def _header_line(self, width: int, base: Style) -> Strip:
        counts = self.counts_shown
        inner = width - 2  # a blank at each end
        name_width = max(NAME_MINIMUM, inner - COUNTS_GAP - cell_len(counts))
        segments = [
            Segment(" ", base),
            Segment(fit(self.practice_text, name_width), base + BOLD),
            Segment(" " * COUNTS_GAP + counts, base),
        ]
        return Strip(segments).crop(0, width - 1).adjust_cell_length(width, base)

    def _filter_line(self, width: int, styles: LineStyles) -> Strip:
        """Label, hint (muted) and page status, each with a blank on both sides."""
        base = styles.base
        if self.field_open:
            return Strip.blank(width, base)
        status = self.status_text
        label_width = cell_len(LABEL) + 2
        status_width = cell_len(status) + 2
        hint_width = max(0, width - label_width - status_width)
        segments = [
            Segment(f" {LABEL}  ", base),
            Segment(fit(self.hint, hint_width - 2), styles.hint),
            Segment(f"  {status} ", base),
        ]
        return Strip(segments).crop(0, width).adjust_cell_length(width, base)
