"""The one cleaning function: no control or invisible format character survives it."""

from __future__ import annotations

import logging
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from linker_tui.common.text import CleanFormatter, clean
from tests.hostile import EVERYTHING, SAMPLES, SURROGATE, bad_characters, hostile


def test_every_control_and_format_code_point_is_removed() -> None:
    """All of C0 (but tab and newline), DEL, C1 and category Cf of this Python's Unicode."""
    kinds = {"Cc", "Cf", "Zl", "Zp"}
    every = (chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    bad = "".join(
        f"{ch}x" for ch in every if unicodedata.category(ch) in kinds and ch not in "\t\n"
    )
    assert len(bad) > 2 * 200
    cleaned = clean(bad)
    assert cleaned.count("\n") == 2  # U+2028 and U+2029 are line breaks
    assert cleaned.replace("\n", "") == "x" * (len(bad) // 2)
    assert bad_characters(clean(bad, single_line=True)) == []


def test_each_class_is_neutralised_and_the_literal_text_kept() -> None:
    for name, sample in SAMPLES.items():
        assert bad_characters(clean(sample)) == [], name
    assert clean(SAMPLES["osc-title"]) == "]0;PWNED-TITLE"
    assert clean(SAMPLES["sgr"]) == "[5;31mPWNED-BLINK[0m"
    assert clean(SAMPLES["c1-csi"]) == "5;31mPWNED-C1"
    assert clean("Ev\u202eil Na\u200bme") == "Evil Name"
    assert clean("a\u2028b") == "a\nb"
    assert clean("a\u2028b", single_line=True) == "a b"


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    assert clean(f"x{SURROGATE}y") == "x\ufffdy"
    clean(hostile("name", surrogate=True)).encode("utf-8")  # encodable for the terminal


def test_ordinary_names_are_unchanged() -> None:
    for name in ("Zoë Côté", "O'Brien-Smith", "李小龙", "Łukasz Żółć", "محمد", "tab\tnl\n"):
        assert clean(name) == name


@given(st.text())
def test_any_text_comes_out_clean_and_cleaning_is_idempotent(text: str) -> None:
    once = clean(text)
    assert bad_characters(once) == []
    assert clean(once) == once
    assert bad_characters(clean(text, single_line=True)) == []
    assert "\n" not in clean(text, single_line=True)


def test_log_lines_are_cleaned_message_and_traceback() -> None:
    formatter = CleanFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError(f"bad name {EVERYTHING}")
    except ValueError:
        record = logging.LogRecord(
            "linker_tui.x",
            logging.WARNING,
            __file__,
            1,
            "patient %s",
            (EVERYTHING,),
            sys.exc_info(),
        )
    output = formatter.format(record)
    assert bad_characters(output) == []
    assert output.startswith("WARNING patient ]0;PWNED-TITLE")
    assert "ValueError: bad name ]0;PWNED-TITLE" in output
    assert "\nTraceback" in output
