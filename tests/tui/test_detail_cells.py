"""The detail pane's lines send only the cells up to the last one that changed (what a
cursor step costs over SSH: ``tests/benchmarks/bench_ssh_bytes.py``)."""

from __future__ import annotations

import pytest
from textual.content import Content

from linker_tui.tui.widgets.detail import changed_end

BOLD = "bold"


@pytest.mark.parametrize(
    ("old", "new", "end"),
    [
        (Content("Patient: Brown"), Content("Patient: Brown"), 0),  # unchanged: nothing sent
        (Content("REQ-0001 · exact"), Content("REQ-0002 · exact"), 8),  # the common end stays
        (Content("Note: long text"), Content("Note: -"), 15),  # blanks over the old text
        (Content("Note: -"), Content("Note: longer"), 12),
        (Content(""), Content("abc"), 3),
        (Content("abc"), Content(""), 3),
        # a style that moved: every cell up to the longer end
        (Content.assemble(("ab", BOLD), "cd"), Content.assemble("ab", ("cd", BOLD)), 4),
        # wide characters: cells, not characters, up to the longer end
        (Content("名前 abc"), Content("名前 abd"), 8),
    ],
)
def test_changed_end(old: Content, new: Content, end: int) -> None:
    assert changed_end(old, new) == end
