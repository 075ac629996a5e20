"""Make untrusted text (from patients or the PMS) safe to show in a terminal."""

from __future__ import annotations

import re
import unicodedata

# C0 controls except tab and newline, DEL, and the C1 range (which includes CSI, OSC, ...).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi overrides and isolates can reorder what the terminal shows.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def clean(text: str | None, *, single_line: bool = False) -> str:
    """Return ``text`` with control characters removed.

    ESC sequences lose their ESC (what remains is shown literally), C1 controls and
    bidirectional overrides are dropped. With ``single_line`` tabs and newlines become
    spaces, for table cells and one-line labels.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _BIDI.sub("", text)
    if single_line:
        text = " ".join(text.split())
    return text


def casefold_ascii(text: str) -> str:
    """Fold case and strip accents: ``"Zoë Côté"`` → ``"zoe cote"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()
