"""The README's key table and the help screen name the same keys of the request list.

The help screen is made from the key specs (``MAIN_KEYS``, ``APP_KEYS``) and the movement
keys (``OTHER_KEYS``); the README's "Using it" table is written by hand. Every default key
of the list must be in the table, and the table must name no key the list does not have.
"""

from __future__ import annotations

import re
from pathlib import Path

from linker_tui.settings.keymap import APP_KEYS, MAIN_KEYS

README = Path(__file__).resolve().parents[1] / "README.md"

MOVES = {"up", "down", "pageup", "pagedown", "home", "end", "ctrl+home", "ctrl+end"}
"""The list's own movement keys (RequestList's bindings; the help's first OTHER_KEYS row)."""
TEXTUAL = {"ctrl+p"}
"""Textual's own: the command palette."""
NAMES = {
    "/": "slash",
    "[": "left_square_bracket",
    "]": "right_square_bracket",
    "?": "question_mark",
    "↑": "up",
    "↓": "down",
    "pgup": "pageup",
    "pgdn": "pagedown",
}


def _key_name(shown: str) -> str:
    """``Ctrl+PgDn`` -> ``ctrl+pagedown``, ``Y`` -> ``Y``, ``[`` -> ``left_square_bracket``."""
    if len(shown) == 1:
        return NAMES.get(shown, shown)
    parts = [NAMES.get(part.lower(), part.lower()) for part in shown.split("+")]
    return "+".join(parts)


def readme_keys() -> set[str]:
    """Every key written in backticks in the first column of the "Using it" table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    keys: set[str] = set()
    for row in section.splitlines():
        if row.startswith("|") and not row.startswith("|-"):
            first_column = row.split("|")[1]
            keys |= {_key_name(k) for k in re.findall(r"`([^`]+)`", first_column)}
    return keys


def test_every_key_of_the_list_is_in_the_readme_and_no_other() -> None:
    bound = {key.strip() for spec in (*MAIN_KEYS, *APP_KEYS) for key in spec.keys.split(",")}
    written = readme_keys()
    assert bound | MOVES <= written, sorted((bound | MOVES) - written)
    assert written <= bound | MOVES | TEXTUAL, sorted(written - bound - MOVES - TEXTUAL)


def test_key_names_are_read_as_textual_names_them() -> None:
    assert _key_name("Ctrl+PgDn") == "ctrl+pagedown"
    assert _key_name("F5") == "f5"
    assert _key_name("Y") == "Y"
    assert _key_name("[") == "left_square_bracket"
