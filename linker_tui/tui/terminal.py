"""What the terminal can draw: the Linux text console's fonts and non-UTF-8 locales lack
the block elements Textual draws frames and edges with.

Debian's console fonts (``TERM=linux``) have the box-drawing lines (``─ │ ┌ ┐ └ ┘``) but
not ``▀ ▄`` (dialog frames), ``▔ ▁`` (button edges, the command palette), ``▌`` (toasts),
``▃`` (the scrollbar's ends), nor marks like ``✓`` and ``🔎``. There the app carries the
class :data:`CONSOLE`, and its stylesheets (app.tcss, screens.tcss) draw with ``solid``
borders and hide the palette's 🔎; the request list's scrollbar draws whole cells
(:class:`CellScrollBarRender`), the patient dialog's evidence marks are ASCII
(:func:`marks_for`), and the cursor rows are reverse video (the console has 8 background
colours, too few to tell a dimmed cursor from the rows around it).

The ``terminal_glyphs`` setting decides (:func:`linker_tui.common.terminal.console_glyphs`,
core, so that ``linker-tui doctor`` reports it too): ``auto`` (the console or a non-UTF-8
locale), ``console`` (always) or ``unicode`` (never).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.scrollbar import ScrollBarRender

CONSOLE = "-console"
"""The app's class when it draws with the characters the Linux console has."""
MONO = "-mono"
"""The app's class on terminals without colour (``NO_COLOR``) or with ANSI colours only."""
CONSOLE_MARKS = str.maketrans({"✓": "+", "✗": "x"})
"""Marks the console's fonts lack, and what stands for them there."""


class CellScrollBarRender(ScrollBarRender):
    """A scrollbar whose thumb is drawn in whole cells (no ``▁ … ▇`` eighth blocks)."""

    VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8
    HORIZONTAL_BARS: ClassVar[list[str]] = [" "] * 8


def marks_for(app: App[object], text: str) -> str:
    """``text`` with the marks the app's terminal can draw (``✓`` is ``+`` on the Linux
    console, ``✗`` is ``x``)."""
    return text.translate(CONSOLE_MARKS) if app.has_class(CONSOLE) else text
