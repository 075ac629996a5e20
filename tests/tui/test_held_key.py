"""A held ↑/↓ (steps closer than ``REPEAT_GAP``): the list scrolls by half a screen when
the cursor leaves it and the detail pane waits for the cursor to rest, so that over a
slow link the intermediate states are not all sent (``bench_slow_link``); a single step
is drawn at once, as before."""

from __future__ import annotations

import time

import pytest

from linker_tui.tui.app import LinkerApp
from linker_tui.tui.widgets.detail import DetailPane
from linker_tui.tui.widgets.request_list import REPEAT_GAP
from tests.tui.drive import SMALL, main_screen, settle, table
from tests.tui.test_main_screen import _add_bulk_requests
from tests.tui.world import World


async def test_a_held_key_scrolls_half_a_screen_a_single_step_one_line(world: World) -> None:
    _add_bulk_requests(world, 40)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        rows = table(app)
        body = rows.body_height()
        rows.move_cursor(row=body - 1)  # the last row in view
        assert rows.scroll_y == 0
        rows.move_cursor(row=body)  # one step further: one line
        assert rows.scroll_y == 1
        rows.move_cursor(row=body + 1, held=True)  # a held key's step: half a screen more
        assert rows.scroll_y == 2 + body // 2
        assert rows.scroll_y <= rows.cursor_row < rows.scroll_y + body
        rows.move_cursor(row=0, held=True)  # and up again, never above the first row
        assert rows.scroll_y == 0
        await settle(pilot)


async def test_the_detail_pane_waits_while_the_key_is_held(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_bulk_requests(world, 40)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen, rows = main_screen(app), table(app)
        shown: list[int] = []
        show = DetailPane.show_detail

        def spy(pane: DetailPane, detail: object) -> None:
            shown.append(detail.row.id)  # type: ignore[attr-defined]
            show(pane, detail)  # type: ignore[arg-type]

        monkeypatch.setattr(DetailPane, "show_detail", spy)
        await pilot.press("down")  # a single step: shown at once
        await settle(pilot)
        assert shown == [rows.rows_shown[1].id]
        started = time.monotonic()
        for row in range(2, 12):  # ten steps 10 ms apart: a held key
            rows.stepped_at = time.monotonic()
            rows.move_cursor(row=row, held=True)
            await pilot.pause(0.01)
        await settle(pilot)
        assert time.monotonic() - started >= REPEAT_GAP  # it waited for the cursor to rest
        assert shown[-1] == rows.rows_shown[11].id == screen.detail.request_id
        assert len(shown) <= 3  # not the ten intermediate rows (at most one every 0.5 s)
