"""Keys that reach the app together (fast typing, a held key, one SSH packet) act in the
order they were typed in every text field: Textual's ``Input`` ran its editing keys only
after the characters typed behind them."""

from __future__ import annotations

from textual import events

from linker_tui.tui.app import LinkerApp
from linker_tui.tui.widgets.top_bar import FilterInput
from tests.tui.drive import SMALL, main_screen, notifications, settle
from tests.tui.world import World


def _arrive_together(app: LinkerApp, *keys: tuple[str, str | None]) -> None:
    """Post the keys as the terminal driver does with one read: back to back."""
    for key, character in keys:
        app.post_message(events.Key(key, character))


async def test_keys_typed_together_in_the_filter_act_in_order(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("slash", "o", "l", "i")
        await settle(pilot)
        field = app.screen.query_one(FilterInput)
        _arrive_together(app, ("backspace", "\x7f"), ("w", "w"))
        await settle(pilot)
        assert field.value == "olw"
        _arrive_together(app, ("home", None), ("x", "x"), ("end", None), ("z", "z"))
        await settle(pilot)
        assert field.value == "xolwz"
        assert main_screen(app).list_query.text == "xolwz"


async def test_an_editing_key_that_does_not_apply_still_reaches_the_app(world: World) -> None:
    """Copy with nothing selected is skipped by the field: the app's binding for the key
    (Textual's "press … to quit" hint on ctrl+c) still runs, as it did before."""
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("slash", "o")
        await settle(pilot)
        app.clear_notifications()
        await pilot.press("ctrl+c")
        await settle(pilot)
        assert any("quit" in text for text in notifications(app))
        assert app.screen.query_one(FilterInput).value == "o"
