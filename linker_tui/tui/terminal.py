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

The ``terminal_glyphs`` setting decides: ``auto`` (the console or a non-UTF-8 locale),
``console`` (always) or ``unicode`` (never).
"""

from __future__ import annotations

import codecs
import locale
import os
from collections.abc import Mapping
from typing import ClassVar

from textual.app import App
from textual.scrollbar import ScrollBarRender

CONSOLE = "-console"
"""The app's class when it draws with the characters the Linux console has."""
MONO = "-mono"
"""The app's class on terminals without colour (``NO_COLOR``) or with ANSI colours only."""
CONSOLE_MARKS = str.maketrans({"✓": "+", "✗": "x"})
"""Marks the console's fonts lack, and what stands for them there."""
CONSOLE_TERMS = frozenset({"linux"})
"""``TERM`` values of text consoles (their fonts have line drawing, not block elements)."""


def console_glyphs(
    setting: str,
    environ: Mapping[str, str] | None = None,
    encoding: str | None = None,
) -> bool:
    """Whether to draw with the Linux console's characters: ``setting`` is the
    ``terminal_glyphs`` setting; ``auto`` looks at ``TERM`` (in ``environ``, default the
    process's) and at the locale's ``encoding`` (default the preferred one)."""
    if setting == "console":
        return True
    if setting == "unicode":
        return False
    term = (os.environ if environ is None else environ).get("TERM", "")
    if term.split("-")[0] in CONSOLE_TERMS:
        return True
    encoding = encoding or locale.getpreferredencoding(False)
    try:
        return codecs.lookup(encoding).name != "utf-8"
    except LookupError:
        return True


class CellScrollBarRender(ScrollBarRender):
    """A scrollbar whose thumb is drawn in whole cells (no ``▁ … ▇`` eighth blocks)."""

    VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8
    HORIZONTAL_BARS: ClassVar[list[str]] = [" "] * 8


def marks_for(app: App[object], text: str) -> str:
    """``text`` with the marks the app's terminal can draw (``✓`` is ``+`` on the Linux
    console, ``✗`` is ``x``)."""
    return text.translate(CONSOLE_MARKS) if app.has_class(CONSOLE) else text
