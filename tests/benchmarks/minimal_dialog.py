"""The baseline of ``bench_candidates``: the real app, where Accept (the same ``a`` key on the
same list) pushes the smallest modal screen instead of the Accept dialogs: one Static with
the text the benchmark looks for, Esc closes it. What Textual costs for any dialog.

Run:  BENCH_DIALOG_TEXT='…' python -m tests.benchmarks.minimal_dialog [linker-tui args]
"""

from __future__ import annotations

import os
import sys
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

from linker_tui.read.views import RequestRow
from linker_tui.tui.flows import Flows

TEXT_VARIABLE = "BENCH_DIALOG_TEXT"


class MinimalDialog(ModalScreen[None]):
    """One Static; Esc closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        """The text the benchmark waits for."""
        yield Static(self.text, markup=False)

    def action_close(self) -> None:
        """Esc: close."""
        self.dismiss(None)


async def minimal_accept(flows: Flows, row: RequestRow) -> bool:
    """Accept replaced: the minimal dialog, nothing changed."""
    await flows.app.push_screen_wait(MinimalDialog(os.environ.get(TEXT_VARIABLE, "")))
    return False


def use_minimal_dialog() -> None:
    """From now on Accept shows the minimal dialog."""
    Flows.accept = minimal_accept  # type: ignore[method-assign,assignment]


if __name__ == "__main__":
    from linker_tui.cli.main import main

    use_minimal_dialog()
    sys.exit(main(sys.argv[1:]))
