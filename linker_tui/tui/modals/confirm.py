"""A plain OK / Cancel question."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Button

from linker_tui.tui.modals.base import Dialog, button, text


class Confirm(Dialog[bool]):
    """Asks one question; ``True`` only for OK. ``default_ok=False``: Cancel is the
    focused default (Enter does not say yes to a doubtful decision)."""

    AUTO_FOCUS = "#ok"

    def __init__(
        self, title: str, body: Content, ok_label: str = "OK", *, default_ok: bool = True
    ) -> None:
        super().__init__()
        self.title_text, self.body, self.ok_label = title, body, ok_label
        self.default_ok = default_ok

    def dialog_title(self) -> str:
        """The question's title."""
        return self.title_text

    def compose_body(self) -> ComposeResult:
        """The question."""
        yield text(self.body)

    def buttons(self) -> ComposeResult:
        """OK / cancel."""
        yield button(self.ok_label, "ok", variant="primary" if self.default_ok else "default")
        yield button("Cancel", "cancel", variant="default" if self.default_ok else "primary")

    def on_mount(self) -> None:
        """Focus Cancel when it is the default."""
        if not self.default_ok:
            self.set_focus(self.query_one("#cancel", Button))

    def cancelled(self) -> bool:
        """Esc: no."""
        return False

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "ok")
