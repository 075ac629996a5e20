"""Typing fast in the filter: the page reads do not pile up, a slow read that ends after
a newer one was asked for is never drawn, and a key's text and list are drawn in one
frame unless the page takes longer than ``top_bar.HOLD`` (issue 19)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from linker_tui.read.views import RequestRow
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.widgets import top_bar
from linker_tui.tui.widgets.request_list import RequestList
from linker_tui.tui.widgets.top_bar import FilterInput
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


Frame = tuple[str, tuple[str, ...]]
"""What a frame showed: the filter's text and the names listed."""


def record_frames(monkeypatch: pytest.MonkeyPatch) -> list[Frame]:
    """Every frame the app hands to its terminal (headless too), as :data:`Frame`."""
    frames: list[Frame] = []
    display = LinkerApp._display

    def recording(app: LinkerApp, screen: Any, renderable: Any) -> None:
        if isinstance(screen, MainScreen) and screen.table.loaded:
            names = tuple(row.typed_name for row in screen.table.rows_shown)
            frames.append((screen.query_one(FilterInput).value, names))
        display(app, screen, renderable)

    monkeypatch.setattr(LinkerApp, "_display", recording)
    return frames


async def test_a_filter_key_and_its_list_reach_the_screen_in_one_frame(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_page = world.services.request_page

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)  # longer than a frame: without the hold, "z" shows alone first
        return request_page(*args, **kwargs)

    monkeypatch.setattr(top_bar, "HOLD", 30.0)  # whatever the machine's load
    frames = record_frames(monkeypatch)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        monkeypatch.setattr(world.services, "request_page", slow)
        await pilot.press("slash")
        await settle(pilot)
        everyone = frames[-1][1]
        before = len(frames)
        await pilot.press("z")
        await wait_until(pilot, lambda: any(text == "z" for text, _ in frames[before:]), "z")
        await settle(pilot)
        first = next(frame for frame in frames[before:] if frame[0] == "z")
        assert frames[-1][1] != everyone
        assert first == frames[-1]  # the typed text with its list, never alone first


async def test_a_slow_page_does_not_hold_the_typed_text_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    request_page = world.services.request_page

    def held_for_z(query: Any, *args: Any, **kwargs: Any) -> Any:
        if query.text == "z":
            assert release.wait(10)
        return request_page(query, *args, **kwargs)

    monkeypatch.setattr(world.services, "request_page", held_for_z)
    monkeypatch.setattr(top_bar, "HOLD", 0.05)
    frames = record_frames(monkeypatch)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        everyone = frames[-1][1]
        await pilot.press("slash", "z")
        # the frames are held no longer than HOLD: "z" shows over the list it replaces
        await wait_until(pilot, lambda: ("z", everyone) in frames, "the typed 'z' alone")
        release.set()
        await settle(pilot)
        assert frames[-1][0] == "z"
        assert frames[-1][1] != everyone
