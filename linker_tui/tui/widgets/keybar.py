"""The bottom line: the keys that apply now.

A light replacement for Textual's ``Footer``: one ``Static`` re-rendered when the
screen's bindings change, instead of a row of widgets rebuilt each time (which made
every dialog and cursor move noticeably slower).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from linker_tui.tui.keys import SPARE_IDS
from linker_tui.tui.safe import Part, line

KEY_STYLE = "bold reverse"
DISABLED_STYLE = "dim"


class KeyBar(Static):
    """``a Accept  r Reject  h Handled  …  ^p palette``; keys that are shown but do not
        apply right now are dimmed, keys that do not apply at all are left out. When the line
        is too short, the spare keys (:data:`~linker_tui.tui.keys.SPARE_IDS`) go first, the
    rightmost first."""

    _shown: tuple[str, tuple[object, ...]] | None = None

    def on_mount(self) -> None:
        """Follow the screen's bindings."""
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.show_keys)

    def on_resize(self) -> None:
        """Spare keys come back (or go) with the width."""
        self.show_keys()

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:
            self.call_after_refresh(self.show_keys)

    def show_keys(self) -> None:
        """Render the keys of the active bindings, once per action, in binding order."""
        if not self.is_attached:  # the screen was closed before this callback ran
            return
        app = self.app
        active = self.screen.active_bindings
        shown: list[tuple[Binding, bool]] = []
        seen: set[str] = set()
        for _node, binding, enabled, _tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            shown.append((binding, enabled))
        tail: list[Part] = []
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        if app.ENABLE_COMMAND_PALETTE and palette is not None:
            tail = [(app.get_key_display(palette.binding), KEY_STYLE), " palette"]
        rendered = self._keys_line(shown, tail)
        width = self.size.width
        spare = [b.id for b, _ in shown if b.id in SPARE_IDS]
        while width and rendered.cell_length > width and spare:
            dropped = spare.pop()  # the last spare key goes first
            shown = [(b, e) for b, e in shown if b.id != dropped]
            rendered = self._keys_line(shown, tail)
        shown_now = (rendered.plain, tuple(rendered.spans))
        if shown_now != self._shown:
            self._shown = shown_now
            # One line of a fixed size: no layout of the screen needed.
            self.update(rendered, layout=False)

    def _keys_line(self, shown: list[tuple[Binding, bool]], tail: list[Part]) -> Content:
        parts: list[Part] = []
        for binding, enabled in shown:
            style = "" if enabled else DISABLED_STYLE
            parts += [
                (self.app.get_key_display(binding), KEY_STYLE if enabled else DISABLED_STYLE),
                (f" {binding.description}  ", style),
            ]
        return line(*parts, *tail)
