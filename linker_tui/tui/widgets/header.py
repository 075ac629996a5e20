"""The top line: the practice's name and how many requests are in each state."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from linker_tui.models import RequestState
from linker_tui.tui.formatting import count
from linker_tui.tui.safe import line


def counts_text(counts: Mapping[RequestState, int]) -> str:
    """``Pending 31 · Waiting for PMS 2 · Linked 0 · Rejected 0``."""
    return " · ".join(f"{state.label} {count(counts.get(state, 0))}" for state in RequestState)


class HeaderBar(Horizontal):
    """The practice's name (cut first when the line is short) and the counts per state."""

    def __init__(self, practice_name: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.practice_name = practice_name

    def compose(self) -> ComposeResult:
        """Name on the left, counts on the right."""
        yield Static(line((self.practice_name, "bold")), id="practice", markup=False)
        yield Static(line(""), id="counts", markup=False)

    def show_counts(self, counts: Mapping[RequestState, int]) -> None:
        """Show the counts per state."""
        self.query_one("#counts", Static).update(line(counts_text(counts)))
