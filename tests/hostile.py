"""Hostile text for the terminal-safety tests: one sample of every class of control
character, and a check that an output carries none of them.

The samples are distinctive (``PWNED`` payloads), so a raw terminal recording can tell
a sequence that came from data from the app's own escape sequences.
"""

from __future__ import annotations

import unicodedata

SAMPLES: dict[str, str] = {
    "osc-title": "\x1b]0;PWNED-TITLE\x07",
    "osc52-clipboard": "\x1b]52;c;UFdORUQ=\x07",
    "osc8-link": "\x1b]8;;http://pwned.example/\x1b\\",
    "sgr": "\x1b[5;31mPWNED-BLINK\x1b[0m",
    "csi-erase": "\x1b[2J\x1b[1;1H",
    "c0": "".join(chr(c) for c in range(1, 0x20) if c not in (0x09, 0x0A, 0x1B)),
    "del": "\x7f",
    "c1-csi": "\x9b5;31mPWNED-C1",
    "c1-osc": "\x9d0;PWNED-C1-TITLE\x9c",
    "c1-all": "".join(chr(c) for c in range(0x80, 0xA0)),
    "bidi": "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
    "zero-width": "\u200b\u200c\u200d\u2060\ufeff\u00ad",
    "tags": "\U000e0001\U000e0041",
    "separators": "a\u2028b\u2029c",
}
SURROGATE = "\ud800"
"""A lone surrogate: it cannot be stored (UTF-8 refuses it) but can come in an error."""
NUL = "\x00"
"""NUL: PostgreSQL refuses it in text; SQLite stores it."""
MARKUP = "[@click=app.quit]x[/] [b]"

EVERYTHING = "".join(SAMPLES.values())
"""Every storable class at once (no NUL, no lone surrogate)."""


def hostile(label: str, *, surrogate: bool = False) -> str:
    """``label`` followed by every class of control character and some markup."""
    text = f"{label} {EVERYTHING} {MARKUP} {label}"
    return text + SURROGATE if surrogate else text


def bad_characters(text: str) -> list[str]:
    """The characters of ``text`` no terminal output may carry: controls other than tab
    and newline (C0, DEL, C1), format characters (bidi, zero-width, tags), surrogates and
    line/paragraph separators. Reported as ``U+XXXX`` for readable failures."""
    found = []
    for ch in text:
        if ch in "\t\n":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            found.append(f"U+{ord(ch):04X}")
    return found
