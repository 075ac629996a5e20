"""Typing fast in the filter: the page reads do not pile up, and a slow read that ends
after a newer one was asked for is never drawn (issue 19)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from linker_tui.read.views import RequestRow
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.widgets.request_list import RequestList
from tests.tui.drive import SMALL, main_screen, settle, wait_until
from tests.tui.world import World


async def test_a_slow_read_ending_after_newer_keys_is_never_drawn(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started = threading.Event()
    asked: list[str] = []
    drawn: list[list[str]] = []
    request_page = world.services.request_page  # what the list screen reads through

    def slow_for_o(query: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(query.text)
        page = request_page(query, *args, **kwargs)  # read now: the rows of "o"
        if query.text == "o":
            started.set()
            assert release.wait(10)  # ends only after the newer keys were typed
        return page

    show_rows = RequestList.show_rows

    def record(table: RequestList, rows: Sequence[RequestRow], **kwargs: Any) -> None:
        drawn.append(sorted(row.typed_name for row in rows))
        show_rows(table, rows, **kwargs)

    monkeypatch.setattr(world.services, "request_page", slow_for_o)
    monkeypatch.setattr(RequestList, "show_rows", record)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        everyone = drawn[-1]
        await pilot.press("slash", "o")
        await wait_until(pilot, started.is_set, "the read of 'o' to start")
        await pilot.press("l", "i", "v")
        await pilot.pause(0.2)
        assert asked == ["", "o"]  # the newer keys wait: no second read runs meanwhile
        release.set()
        await settle(pilot)
        screen = main_screen(app)
        assert screen.list_query.text == "oliv"
        # "o" (many rows) was read but never drawn; "ol" and "oli" were never read
        assert asked == ["", "o", "oliv"]
        assert drawn == [everyone, ["Olive Optout"]]
        assert [row.typed_name for row in screen.table.rows_shown] == ["Olive Optout"]


async def test_filter_keys_read_the_page_without_the_counts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    state_counts = world.services.state_counts  # what the list screen reads through

    def counting() -> Any:
        calls.append("counts")
        return state_counts()

    monkeypatch.setattr(world.services, "state_counts", counting)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert calls == ["counts"]
        await pilot.press("slash", "o", "l")
        await settle(pilot)
        assert calls == ["counts"]
        assert main_screen(app).top_bar.counts_shown.startswith("Pending 9")
        await pilot.press("f5")
        await settle(pilot)
        assert calls == ["counts", "counts"]
