"""Make untrusted text (from patients or the PMS) safe to show in a terminal.

:func:`clean` is the project's one cleaning function: every string that may hold data
goes through it before it reaches a screen, a toast, CLI output or a log line.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any

# C0 controls except tab and newline (ESC, BEL, CR, ...), DEL, and the C1 range (CSI 0x9B,
# OSC 0x9D, ...).
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"
# Unicode format characters (category Cf), all invisible: bidi embeddings, overrides,
# isolates and marks (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C), zero-width spaces
# and joiners, the word joiner, BOM, soft hyphen, interlinear annotations and tags. They
# reorder or hide what the terminal shows and make the terminal's idea of a line's width
# differ from the app's.
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
_INVISIBLE = re.compile(f"[{_CONTROLS}{_FORMAT}]")
# Lone surrogates (from JSON "\ud800" or surrogateescape'd bytes) cannot be encoded for the
# terminal: they become U+FFFD, so the reader sees that something was there.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Unicode line and paragraph separators are line breaks.
_SEPARATOR = re.compile("[\u2028\u2029]")
# What JSON output may not carry raw: all of the above. ``json`` escapes C0 itself but
# not DEL, C1, format characters or separators, and writes lone surrogates raw.
_JSON_UNSAFE = re.compile(f"[{_CONTROLS}{_FORMAT}\u2028\u2029\ud800-\udfff]")


def clean(text: str | None, *, single_line: bool = False) -> str:
    """Return ``text`` with control and invisible format characters removed.

    ESC sequences lose their ESC (what remains is shown literally); C1 controls, bidi
    overrides and zero-width characters are dropped; lone surrogates become U+FFFD. With
    ``single_line`` tabs and line breaks become single spaces, for table cells and
    one-line labels.
    """
    if not text:
        return ""
    text = _SURROGATE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _SEPARATOR.sub("\n", text)
    if single_line:
        text = " ".join(text.split())
    return text


def dumps_json(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON whose text is safe on a terminal and whose values are exact: every
    character :func:`clean` would remove is written as a ``\\uXXXX`` escape (letters such
    as ``ë`` or ``李`` stay readable)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # a surrogate pair, as JSON writes characters beyond the BMP
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


class CleanFormatter(logging.Formatter):
    """A log formatter whose output is cleaned: data in a message or in an exception's
    text cannot drive the terminal or the log viewer (line breaks of tracebacks stay)."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, cleaned."""
        return clean(super().format(record))


def casefold_ascii(text: str) -> str:
    """Fold case and strip accents: ``"Zoë Côté"`` → ``"zoe cote"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()
