"""A filter key does not lay the screen out again (issue 19): the list's number of rows
changes its scrollbar's thumb only, and the status line keeps its width while staff
type. The screen then looks exactly as a laid-out one would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.cells import cell_len
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from linker_tui.tui.app import LinkerApp
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.widgets.top_bar import FilterInput
from tests.tui.drive import SMALL, main_screen, settle
from tests.tui.test_main_screen import _add_bulk_requests
from tests.tui.world import World


async def _type(pilot: Pilot[None], text: str) -> None:
    for key in text:
        await pilot.press(key)
        await settle(pilot)


async def _as_laid_out(pilot: Pilot[None], screen: Screen[None]) -> None:
    """Lay the screen out as Textual would on a resize (the reference look)."""
    screen.refresh(layout=True)
    await settle(pilot)
    await pilot.pause()


@asynccontextmanager
async def _filtering(world: World) -> AsyncIterator[tuple[Pilot[None], MainScreen, list[int]]]:
    """The app with 150 more requests (Bulk Person0 ...), the keys in the filter field;
    the main screen, and a list that counts the screen's layouts from then on."""
    _add_bulk_requests(world, 150)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        screen.query_one(FilterInput).cursor_blink = False  # the same screenshot each time
        await pilot.press("slash")
        await settle(pilot)
        layouts: list[int] = []
        screen.screen_layout_refresh_signal.subscribe(
            screen.table, lambda _: layouts.append(1), immediate=True
        )
        yield pilot, screen, layouts


async def test_the_scrollbar_follows_the_rows_with_a_layout_only_when_it_goes(
    world: World,
) -> None:
    async with _filtering(world) as (pilot, screen, layouts):
        rows, app = screen.table, pilot.app
        await _type(pilot, "person")
        assert rows.row_count == 100 and rows.show_vertical_scrollbar
        layouts.clear()
        await _type(pilot, "1")  # Person1, Person10-19, Person100-149
        assert rows.row_count == 61 and rows.show_vertical_scrollbar
        assert layouts == []
        assert rows.vertical_scrollbar.window_virtual_size == 62  # the rows and the header
        shown = app.export_screenshot()
        await _as_laid_out(pilot, screen)
        assert layouts  # (the reference was laid out)
        assert app.export_screenshot() == shown
        layouts.clear()
        await _type(pilot, "4")  # Person14, Person140-149: they fit, the bar goes
        assert rows.row_count == 11 and not rows.show_vertical_scrollbar
        assert layouts  # the list's region changed: the screen was laid out
        shown = app.export_screenshot()
        await _as_laid_out(pilot, screen)
        assert app.export_screenshot() == shown


async def test_the_status_keeps_its_width_while_staff_type(world: World) -> None:
    async with _filtering(world) as (pilot, screen, layouts):
        status = screen.query_one("#page-status", Static)
        wide = status.size.width
        await _type(pilot, "person1")
        assert screen.top_bar.status_text == "rows 1\u201361 of 61 · open"
        assert status.size.width == wide  # padded: the field did not widen
        assert layouts == []
        await pilot.press("enter")  # back to the list: the status at its own width
        await settle(pilot)
        await pilot.pause()
        assert status.size.width == cell_len(screen.top_bar.status_text)
        assert status.size.width < wide
