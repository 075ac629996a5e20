"""The baseline of ``bench_launch``: the smallest Textual app worth the name (a label and
a footer), run as staff would run a Textual app: ``python -m tests.benchmarks.minimal_app``."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Static


class MinimalApp(App[None]):
    """A label and a footer."""

    def compose(self) -> ComposeResult:
        """The label the benchmark looks for, and the footer."""
        yield Static("Textual is up")
        yield Footer()


if __name__ == "__main__":
    MinimalApp().run()
