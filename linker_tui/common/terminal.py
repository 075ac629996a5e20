"""Whether the terminal can draw Textual's block elements (core: no Textual; the TUI
draws accordingly, ``linker-tui doctor`` reports it).

Debian's console fonts (``TERM=linux``) have the box-drawing lines (``─ │ ┌ ┐ └ ┘``) but
not the block elements (``▀ ▄ ▔ ▁ ▌ ▃``) nor marks like ``✓``; a non-UTF-8 locale cannot
show them either. The ``terminal_glyphs`` setting decides: ``auto`` (the console or a
non-UTF-8 locale), ``console`` (always) or ``unicode`` (never).
"""

from __future__ import annotations

import codecs
import locale
import os
from collections.abc import Mapping

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
