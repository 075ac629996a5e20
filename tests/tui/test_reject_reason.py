"""The reject reason: after a quick reason the reason field has the focus and works as
any text field (real keys)."""

from __future__ import annotations

from textual.widgets import Input

from linker_tui.store.enums import RequestState
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.reject import RejectReason
from linker_tui.tui.screens.main import MainScreen
from tests.tui.drive import SMALL, notifications, select, settle, wait_screen
from tests.tui.world import World


async def test_after_a_quick_reason_the_field_takes_typing(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "unknown")
        await pilot.press("r")  # nobody scheduled: straight to the reason
        screen = await wait_screen(pilot, RejectReason)
        field = screen.query_one("#reason", Input)
        await pilot.press("2")
        assert field.value == "Duplicate request"
        assert app.focused is field and field.cursor_position == len("Duplicate request")
        # typing adds at the cursor, digits included (no other quick reason is picked)
        await pilot.press("space", "o", "f", "space", "1", "0", "0", "3")
        assert field.value == "Duplicate request of 1003"
        await pilot.press("home", "delete", "D", "end", "backspace", "4")
        assert field.value == "Duplicate request of 1004"
        await pilot.press("enter")  # Enter in the field rejects
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert "Rejected REQ-1005: Duplicate request of 1004" in notifications(app)
    request = world.request("unknown")
    assert request.state == RequestState.REJECTED.value
    assert request.reject_reason == "Duplicate request of 1004"


async def test_a_quick_reason_chosen_with_the_arrows_fills_the_field(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "unknown")
        await pilot.press("r")
        screen = await wait_screen(pilot, RejectReason)
        field = screen.query_one("#reason", Input)
        await pilot.press("down", "down", "enter")  # the third quick reason
        assert field.value == "Not a patient of this practice"
        assert app.focused is field
        await pilot.press("end", "full_stop")
        assert field.value == "Not a patient of this practice."
        await pilot.press("escape")  # Esc still cancels, nothing changes
        await wait_screen(pilot, MainScreen)
    assert world.request("unknown").state == RequestState.PENDING.value
