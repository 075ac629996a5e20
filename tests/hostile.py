"""Hostile text for the terminal-safety tests: one sample of every class of control
character, and a check that an output carries none of them.

The samples are distinctive (``PWNED`` payloads), so a raw terminal recording can tell
a sequence that came from data from the app's own escape sequences.
"""

from __future__ import annotations

import json
import os
import time
import unicodedata
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.store.db import write_session
from linker_tui.store.models import Appointment, OnlineRequest, Patient, Provider

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


X = hostile("PWN")
"""What :func:`make_hostile` appends to every piece of data."""


def make_hostile(engine: Engine) -> None:
    """Every name, phone, reason, note, operatory and request id gets every control class
    (email addresses stay valid, so confirmation emails can still be queued)."""
    with write_session(engine) as s:
        for provider in s.exec(select(Provider)).all():
            provider.first_name += X
            provider.last_name += X
            provider.title += X
            provider.abbr += X
        for patient in s.exec(select(Patient)).all():
            patient.first_name += X
            patient.last_name += X
            patient.preferred_name = X
            patient.phone_mobile += X
        for appointment in s.exec(select(Appointment)).all():
            appointment.reason += X
            appointment.operatory += X
        for request in s.exec(select(OnlineRequest)).all():
            request.external_id += X
            request.typed_first_name += X
            request.typed_last_name += X
            request.typed_phone += X
            request.reason += X
            request.note += X
            request.attention = X


def hostile_inbox(inbox: Path) -> list[Path]:
    """Unreadable inbox files whose names hold each control class (no ``/``: one file per
    class, a name has at most 255 bytes)."""
    inbox.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, sample in SAMPLES.items():
        name = sample.replace("/", "_")
        for prefix, body in (("bad", "{not json " + X), ("wrong", json.dumps({"x": X}))):
            path = inbox / f"{prefix}-{kind}{name}.json"
            path.write_text(body)
            old = time.time() - 3600  # settled: a fresh unreadable file may still be written
            os.utime(path, (old, old))
            written.append(path)
    return written
