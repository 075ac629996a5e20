"""Fixtures and helpers for the Pilot tests of the TUI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.world import World, build_world


@pytest.fixture(autouse=True)
def _colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every TUI test starts in a colour terminal with Unicode glyphs: a ``NO_COLOR`` or a
    ``TERM=linux`` in the environment of the run would turn every snapshot monochrome or
    change its frames (a test wanting them sets them itself)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("LINKER_TERMINAL_GLYPHS", "unicode")


@pytest.fixture
def world(tmp_path: Path) -> World:
    """A small practice in a SQLite file, at a fixed time (2026-11-27 09:00 Toronto)."""
    return build_world(tmp_path)
