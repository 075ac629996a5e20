"""How the main screen and the dialogs draw in real terminals: without colour (NO_COLOR),
on the Linux text console (TERM=linux), with Home/End."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rich.style import Style
from textual.command import CommandPalette
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Static

from linker_tui.common.terminal import console_glyphs
from linker_tui.store.db import write_session
from linker_tui.store.models import OnlineRequest
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.link import ExactMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.terminal import CONSOLE, MONO, CellScrollBarRender
from linker_tui.tui.widgets.columns import fitting_columns
from linker_tui.tui.widgets.detail import ChangedCells, changed_end
from linker_tui.tui.widgets.request_list import COLUMNS, RequestList
from tests.tui.drive import (
    SMALL,
    main_screen,
    plain,
    quiet,
    select,
    settle,
    table,
    wait_screen,
    wait_until,
)
from tests.tui.test_main_screen import _add_bulk_requests
from tests.tui.test_sync import CAN_LINK
from tests.tui.world import NOW, World, build_world

MISSING_ON_CONSOLE = "▀▄▔▁▌▐▃▊▎✓🔎"
"""Glyphs the Linux console's fonts lack (issue 17), which Textual's borders use."""


def _row_styles(rows: RequestList, y: int) -> list[Style]:
    return [s.style for s in rows.render_line(y) if s.text.strip() and s.style is not None]


# ---------------------------------------------------------------------- NO_COLOR


@pytest.mark.parametrize("focus", ["list", "filter"])
async def test_no_colour_cursor_is_reverse_video_in_both_focus_states(
    world: World, monkeypatch: pytest.MonkeyPatch, focus: str
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert app.no_color and app.has_class(MONO)
        rows = table(app)
        if focus == "filter":
            await pilot.press("slash")  # the filter field takes the keys
            await settle(pilot)
            assert not rows.has_focus
        cursor, other = _row_styles(rows, 1), _row_styles(rows, 2)
        assert cursor and all(s.reverse for s in cursor)
        assert all(bool(s.bold) == (focus == "list") for s in cursor)
        assert other and not any(s.reverse for s in other)  # the cursor stands out
        await pilot.press("enter" if focus == "filter" else "down")
        await settle(pilot)
        assert rows.has_focus
        moved = 1 if focus == "filter" else 2
        assert all(s.reverse for s in _row_styles(rows, moved))
        assert not any(s.reverse for s in _row_styles(rows, 3 - moved))


# ---------------------------------------------------------------------- Linux console


@pytest.mark.parametrize(
    ("setting", "term", "encoding", "console"),
    [
        ("auto", "linux", "UTF-8", True),
        ("auto", "linux-16color", "UTF-8", True),
        ("auto", "xterm-256color", "UTF-8", False),
        ("auto", "screen", "utf8", False),
        ("auto", "xterm-256color", "ISO-8859-1", True),
        ("auto", "xterm", "no-such-codec", True),
        ("unicode", "linux", "ISO-8859-1", False),
        ("console", "xterm-256color", "UTF-8", True),
    ],
)
def test_console_glyphs_detection(setting: str, term: str, encoding: str, console: bool) -> None:
    assert console_glyphs(setting, {"TERM": term}, encoding) is console


def _console_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("TERM", "linux")
    return build_world(tmp_path, terminal_glyphs="auto")


def _screen_text(app: LinkerApp) -> str:
    """Every character on the screen (the SVG screenshot holds them as text)."""
    return app.export_screenshot()


async def test_linux_console_draws_with_console_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _console_world(tmp_path, monkeypatch)
    _add_bulk_requests(world, 40)  # a scrollbar
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await settle(pilot)
        assert app.has_class(CONSOLE)
        rows = table(app)
        assert rows.vertical_scrollbar.renderer is CellScrollBarRender
        await pilot.press("pagedown", "down")  # the thumb mid-way, between cells
        await settle(pilot)
        assert not set(_screen_text(app)) & set(MISSING_ON_CONSOLE)
        # the blurred cursor is reverse video (the console's 8 backgrounds cannot dim it)
        await pilot.press("slash")
        await settle(pilot)
        cursor_y = rows.cursor_row - round(rows.scroll_y) + 1
        assert all(s.reverse and not s.bold for s in _row_styles(rows, cursor_y))
        await pilot.press("enter")
        await select(pilot, "exact")
        await pilot.press("a")
        dialog = await wait_screen(pilot, ExactMatch)
        await quiet(pilot)
        frame = dialog.query_one(".dialog")
        assert frame.styles.border.top[0] == "solid"
        buttons = list(dialog.query(Button).results())
        assert buttons and all(b.styles.border_top[0] == "solid" for b in buttons)
        assert all(b.region.height == 3 for b in buttons)
        app.notify("Saved.")
        app.notify("Not saved.", severity="error")
        await wait_until(pilot, lambda: "Not&#160;saved." in _screen_text(app), "the toasts")
        text = _screen_text(app)
        assert "Saved." in text and "┌" in text
        assert not set(text) & set(MISSING_ON_CONSOLE)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await pilot.press("ctrl+p")
        await wait_screen(pilot, CommandPalette)
        await pilot.press("s", "y", "n")
        await pilot.pause(0.3)
        assert not set(_screen_text(app)) & set(MISSING_ON_CONSOLE)


async def test_unicode_terminal_keeps_textual_frames(world: World) -> None:
    """The counterpart: elsewhere the dialogs keep Textual's thick frame (the test above
    would pass for an app that never drew a block element)."""
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert not app.has_class(CONSOLE)
        await select(pilot, "exact")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await quiet(pilot)
        assert set(_screen_text(app)) & set("▀▄▔▁")


def test_snapshot_linux_console_dialog(
    snap_compare: Callable[..., bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _console_world(tmp_path, monkeypatch)
    app = LinkerApp(world.services, background_jobs=False)

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await select(pilot, "exact")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SMALL, run_before=run)


# ---------------------------------------------------------------------- Home / End


async def test_home_and_end_go_to_the_first_and_last_row(world: World) -> None:
    _add_bulk_requests(world, 60)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        rows = table(app)
        await pilot.press("end")
        await wait_until(pilot, lambda: rows.cursor_row == rows.row_count - 1, "the last row")
        await settle(pilot)
        assert rows.scroll_y == rows.max_scroll_y > 0
        await pilot.press("home")
        await settle(pilot)
        assert rows.cursor_row == 0 and rows.scroll_y == 0
        await pilot.press("slash", "home", "x", "end")  # in the filter they edit the text
        await settle(pilot)
        assert rows.cursor_row == 0


# ---------------------------------------------------------------------- redraws (SSH)


async def test_a_cursor_step_redraws_two_rows_and_the_changed_detail_cells(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        rows, screen = table(app), main_screen(app)
        pane = screen.detail
        refreshed: list[tuple[object, ...]] = []
        cells: dict[int, list[tuple[Region, bool]]] = {}

        def spy_refresh(*regions: object, **kwargs: object) -> object:
            refreshed.append(regions)
            return Widget.refresh(rows, *regions, **kwargs)  # type: ignore[arg-type]

        refresh = ChangedCells.refresh

        def spy_cells(line: ChangedCells, *regions: Region, **kwargs: bool) -> ChangedCells:
            for region in regions:
                cells.setdefault(id(line), []).append((region, kwargs.get("layout", False)))
            return refresh(line, *regions, **kwargs)

        monkeypatch.setattr(rows, "refresh", spy_refresh)
        monkeypatch.setattr(ChangedCells, "refresh", spy_cells)
        lines = list(pane.query_children(ChangedCells).results(ChangedCells))
        before = [line.text for line in lines]
        await pilot.press("down")
        await settle(pilot)
        # the list: the row the cursor left and the row it is on, one line each, without
        # the scrollbar's cell beside them
        width = rows.scrollable_content_region.width
        assert [(r[0].y, r[0].height, r[0].width) for r in refreshed] == [  # type: ignore[attr-defined]
            (1, 1, width),
            (2, 1, width),
        ]
        # the pane: on each line whose text changed, the cells up to the last that changed;
        # the others ("Note: -") not at all; never a layout
        after = [line.text for line in lines]
        assert "REQ-1002" in plain(pane) and "Note: -" in pane.shown
        for line, old, new in zip(lines, before, after, strict=True):
            end = changed_end(old, new)
            expected = [(Region(0, 0, end, 1), False)] if end else []
            assert cells.get(id(line), []) == expected, (old.plain, new.plain)
        assert any(cells.values())


# ---------------------------------------------------------------------- narrow screens


@pytest.mark.parametrize(
    ("width", "shown"),
    [
        (79, ["received", "name", "requested", "provider", "reason", "hint"]),
        (70, ["received", "name", "requested", "provider", "hint"]),
        (59, ["received", "name", "requested", "hint"]),
        (47, ["name", "requested", "hint"]),
        (39, ["name", "hint"]),
        (10, ["name", "hint"]),  # never less than the name and the match
    ],
)
def test_narrow_lists_drop_reason_then_provider_received_requested(
    width: int, shown: list[str]
) -> None:
    assert [spec.key for spec in fitting_columns(COLUMNS, width)] == shown


def _keys_fit(app: LinkerApp, width: int) -> str:
    """The key line as shown: it fits, so no key is cut in half."""
    keys = main_screen(app).bottom_bar.keys_text.rstrip()
    assert len(keys) <= width, keys
    return keys


async def test_80_columns_keep_help_and_quit_when_d_seen_appears(world: World) -> None:
    with write_session(world.engine) as s:
        request = s.get(OnlineRequest, world.requests["none"])
        assert request is not None
        request.attention = CAN_LINK
        request.attention_at = NOW
        request.version += 1
        s.add(request)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "Nothing")
        keys = _keys_fit(app, SMALL[0])
        for key in ("a Accept", "r Reject", "p Patient", "d Seen", "? Help", "q Quit"):
            assert key in keys
        assert "^p palette" not in keys  # the palette's key goes first (^p still works)


async def test_60x16_keeps_the_essentials(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=(60, 16)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        rows = table(app)
        assert [spec.key for spec in rows.columns] == ["received", "name", "requested", "hint"]
        first = rows.render_line(1).text
        assert "Jane Exact" in first and "Thu 12-03 09:30" in first and "exact match" in first
        assert rows.body_height() == 16 - 2 - 1 - 7 - 2
        counts = screen.top_bar.query_one("#counts-short", Static)
        assert counts.display and not screen.top_bar.query_one("#counts", Static).display
        assert str(counts.content) == "pending 9 · waiting 0 · linked 1 · rejected 0"
        assert counts.region.right <= 60  # the counts are not cut
        assert screen.detail.display
        sync = screen.bottom_bar.query_one("#sync-status", Static)  # not crowded out by mail
        assert screen.bottom_bar.sync_text == "not synced yet · y to sync"
        assert sync.content_region.width >= len(screen.bottom_bar.sync_text)
        keys = _keys_fit(app, 60)
        for key in ("a Accept", "r Reject", "p Patient", "/ Filter", "? Help"):
            assert key in keys


async def test_below_60x16_rows_stay_in_view(world: World) -> None:
    """The graceful minimum (40x12): the detail pane goes, the rows stay, the name and
    the match stay readable."""
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=(40, 12)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        rows = table(app)
        assert not screen.detail.display
        assert rows.body_height() == 12 - 2 - 1 - 2
        assert [spec.key for spec in rows.columns] == ["name", "hint"]
        assert rows.render_line(1).text.startswith("Jane Exact")
        assert "a Accept" in _keys_fit(app, 40) and "? Help" in _keys_fit(app, 40)
        await pilot.resize_terminal(80, 24)  # back to a full screen: everything returns
        await settle(pilot)
        assert screen.detail.display and len(rows.columns) == 6
        assert screen.top_bar.query_one("#counts", Static).display


@pytest.mark.parametrize("size", [(60, 16), (40, 12)], ids=["60x16", "40x12"])
def test_snapshot_narrow_main_screen(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    app = LinkerApp(build_world(tmp_path).services, background_jobs=False)
    assert snap_compare(app, terminal_size=size, run_before=settle)


async def test_linux_console_patient_marks_are_ascii(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _console_world(tmp_path, monkeypatch)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")
        await pilot.press("a")
        await wait_screen(pilot, PatientChooser)
        await quiet(pilot)
        text = _screen_text(app)
        assert "+&#160;agrees" in text and "x&#160;differs" in text
        assert not set(text) & set(MISSING_ON_CONSOLE)
