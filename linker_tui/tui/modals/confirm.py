"""A plain OK / Cancel question."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Button

from linker_tui.tui.modals.base import Dialog, button, text


class Confirm(Dialog[bool]):
    """Asks one question; ``True`` only for OK."""

    AUTO_FOCUS = "#ok"

    def __init__(self, title: str, body: Content, ok_label: str = "OK") -> None:
        super().__init__()
        self.title_text, self.body, self.ok_label = title, body, ok_label

    def dialog_title(self) -> str:
        """The question's title."""
        return self.title_text

    def compose_body(self) -> ComposeResult:
        """The question."""
        yield text(self.body)

    def buttons(self) -> ComposeResult:
        """OK / cancel."""
        yield button(self.ok_label, "ok", variant="primary")
        yield button("Cancel", "cancel")

    def cancelled(self) -> bool:
        """Esc: no."""
        return False

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "ok")
