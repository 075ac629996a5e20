"""The baseline of ``bench_filter``: the smallest Textual app with a filter field and a
list that changes on each key, run as staff would run a Textual app:
``python -m tests.benchmarks.filter_floor_app``.

A ``Filter:`` label with a compact input field and a fixed word after it, and under
it a list of 36 lines (a ``Static`` of the list's height, updated without a layout pass)
that starts ``row 1: [<typed text>]``. The list changes in the key's own handler: no database, no
thread, nothing of linker-tui. Key → list changed here is what Textual and the terminal
cost for any key that changes a list.
"""

from __future__ import annotations

from textual import on
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Input, Static

LINES = 36
READY = "row 1: [(all)]"
"""What the list says before anything is typed."""


def listed(text: str) -> str:
    """The list for ``text`` (what the benchmark waits for: ``row 1: [<text>]``)."""
    shown = text or "(all)"
    return "\n".join(f"row {n}: [{shown}]" for n in range(1, LINES + 1))


class FilterFloorApp(App[None]):
    """A filter field and a list that shows what it holds."""

    CSS = """
    #filter-row { height: 1; }
    #filter-label { width: auto; padding: 0 1; }
    #filter { width: 1fr; height: 1; border: none; padding: 0 1; }
    #status { width: auto; padding: 0 1; }
    #list { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        """The filter line and the list."""
        with Horizontal(id="filter-row"):
            yield Static("Filter:", id="filter-label")
            yield Input(id="filter", compact=True)
            yield Static("floor", id="status")  # as the list's status: the field ends
        yield Static(Content(listed("")), id="list")

    @on(Input.Changed, "#filter")
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#list", Static).update(Content(listed(event.value)), layout=False)


if __name__ == "__main__":
    FilterFloorApp().run()
