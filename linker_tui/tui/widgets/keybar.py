"""The bottom line: the keys that apply now.

A light replacement for Textual's ``Footer``: one line re-rendered when the screen's
bindings change, instead of a row of widgets rebuilt each time (which made every dialog
and cursor move noticeably slower). Like the footer, a click on a key presses it and the
mouse over a key shows what it does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Static

from linker_tui.tui.keys import FILTER, QUIT, SPARE_IDS, TOGGLE_HANDLED
from linker_tui.tui.safe import one_line

LATER_IDS: tuple[str, ...] = (QUIT.id, TOGGLE_HANDLED.id, FILTER.id)
"""Keys left out, in this order, when the line is still too long without the spare keys
and the palette's (on a narrow screen; Help stays and lists them all)."""
PALETTE = "palette"
"""Stands for the ``^p palette`` key at the end of the line in the drop order."""
KEY_STYLE = Style.parse("bold reverse")
DISABLED_STYLE = Style.parse("dim")
PLAIN = Style()


def _pressing(key: str, help_text: str) -> Style:
    """Marks a key's cells: a click presses ``key``; the tooltip is ``help_text``."""
    return Style.from_meta({"key": key, "help": help_text})


def keys_content(screen: Screen[Any], width: int) -> Content:
    """``a Accept  r Reject  h Handled  …  ^p palette``: the keys of the screen's active
    bindings, once per action, in binding order. Keys that are shown but do not apply right
    now are dimmed, keys that do not apply at all are left out. When the line is longer
    than ``width``, the spare keys (:data:`~linker_tui.tui.keys.SPARE_IDS`) go first, the
    rightmost first, then ``^p palette``, then :data:`LATER_IDS` (so that a key never
    shows cut in half)."""
    app = screen.app
    active = screen.active_bindings
    shown: list[tuple[Binding, bool]] = []
    seen: set[str] = set()
    for _node, binding, enabled, _tooltip in active.values():
        if not binding.show or binding.action in seen:
            continue
        seen.add(binding.action)
        shown.append((binding, enabled))
    tail: list[tuple[str, Style]] = []
    palette = active.get(app.COMMAND_PALETTE_BINDING)
    if app.ENABLE_COMMAND_PALETTE and palette is not None:
        binding = palette.binding
        click = _pressing(binding.key, "Command palette")
        tail = [
            (one_line(app.get_key_display(binding)), KEY_STYLE + click),
            (" palette", click),
        ]

    def assemble(keys: list[tuple[Binding, bool]]) -> Content:
        parts: list[tuple[str, Style]] = []
        for binding, enabled in keys:
            style = PLAIN if enabled else DISABLED_STYLE
            key_style = KEY_STYLE if enabled else DISABLED_STYLE
            if enabled:  # a click presses the key; the mouse over it shows what it does
                click = _pressing(binding.key, binding.tooltip or binding.description)
                key_style, described = key_style + click, style + click
            else:
                described = style
            parts += [
                (one_line(app.get_key_display(binding)), key_style),
                (one_line(f" {binding.description}"), described),
                ("  ", style),
            ]
        return Content.assemble(*parts, *tail)

    rendered = assemble(shown)
    # the rightmost spare key first, then the palette's (^p still opens it), then LATER_IDS
    order = [b.id for b, _ in reversed(shown) if b.id in SPARE_IDS]
    for dropped in (*order, PALETTE, *LATER_IDS):
        if not width or rendered.cell_length <= width:
            break
        if dropped == PALETTE:
            tail = []
        else:
            shown = [(b, e) for b, e in shown if b.id != dropped]
        rendered = assemble(shown)
    return rendered


def follow_bindings(widget: Widget, show: Callable[[], None]) -> None:
    """Call ``show`` after the next refresh, and again whenever the bindings of the
    widget's screen change (from ``on_mount``)."""

    def changed(screen: Screen[object]) -> None:
        if screen is widget.screen:
            widget.call_after_refresh(show)

    widget.screen.bindings_updated_signal.subscribe(widget, changed)
    widget.call_after_refresh(show)


class KeyBar(Static):
    """The keys that apply now, on one line (:func:`keys_content`)."""

    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """
    _shown: tuple[str, tuple[object, ...]] | None = None

    def on_mount(self) -> None:
        """Follow the screen's bindings."""
        follow_bindings(self, self.show_keys)

    def on_resize(self) -> None:
        """Spare keys come back (or go) with the width."""
        self.show_keys()

    def show_keys(self) -> None:
        """Render the keys of the active bindings."""
        if not self.is_attached:  # the screen was closed before this callback ran
            return
        rendered = keys_content(self.screen, self.size.width)
        shown_now = (rendered.plain, tuple(rendered.spans))
        if shown_now != self._shown:
            self._shown = shown_now
            # One line of a fixed size: no layout of the screen needed.
            self.update(rendered, layout=False)

    def on_click(self, event: events.Click) -> None:
        """A click on a key that applies presses it."""
        key = event.style.meta.get("key")
        if isinstance(key, str):
            event.stop()
            self.app.simulate_key(key)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """The mouse over a key shows what it does."""
        help_text = event.style.meta.get("help")
        self.tooltip = help_text if isinstance(help_text, str) else None

    @property
    def keys_text(self) -> str:
        """The keys as shown (plain text)."""
        return self._shown[0] if self._shown else ""
