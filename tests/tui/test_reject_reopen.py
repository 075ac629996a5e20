"""Reject (with the scheduled-appointments warning) and reopen, with real keys."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Static

from linker_tui.store.enums import OutboxStatus, RequestState
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.candidates import Candidates
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt
from linker_tui.tui.modals.reject import RejectReason, ScheduledWarning
from linker_tui.tui.screens.main import MainScreen
from tests.tui.drive import (
    SMALL,
    dialog_text,
    main_screen,
    notifications,
    plain,
    select,
    settle,
    wait_screen,
)
from tests.tui.world import World, dump


async def test_reject_warns_and_links_instead(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "partial")
        await pilot.press("r")
        await wait_screen(pilot, ScheduledWarning)
        text = dialog_text(app)
        assert "This patient has 2 scheduled appointments:" in text
        assert "Thu 2026-12-03 10:00 with Dr. Ben Osei, OP2, Checkup" in text
        assert "Thu 2026-12-10 09:30 with Dr. Amelia Chen, OP1, Cleaning" in text
        assert app.focused is not None and app.focused.id == "link_instead"
        # the app sends nothing on reject, and says so (it does not claim a message)
        assert "Rejecting only marks it declined: no message is sent." in text
        assert "tells the patient" not in text
        await pilot.press("enter")  # Link instead
        await wait_screen(pilot, Candidates)
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    request = world.request("partial")
    assert request.state == RequestState.LINKED.value
    assert request.linked_appointment_id == world.appointments["A-BOB-1"]
    assert [e.action for e in world.audit("partial")] == ["link"]


async def test_reject_anyway_with_a_quick_reason(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "partial")
        await pilot.press("r")
        await wait_screen(pilot, ScheduledWarning)
        await pilot.press("right", "enter")  # Reject anyway
        screen = await wait_screen(pilot, RejectReason)
        await pilot.press("1")
        assert screen.query_one("#reason", Input).value == "No availability"
        assert app.focused is not None and app.focused.id == "reason"  # Enter rejects
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert "Rejected REQ-1002: No availability" in notifications(app)
    request = world.request("partial")
    assert request.state == RequestState.REJECTED.value
    assert request.reject_reason == "No availability"
    assert request.decided_by == "tester@desk-1"
    assert [e.action for e in world.audit("partial")] == ["reject"]


async def test_reject_needs_a_reason_and_takes_typed_text(world: World) -> None:
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "unknown")
        await pilot.press("r")  # nobody scheduled: no warning
        screen = await wait_screen(pilot, RejectReason)
        assert isinstance(app.focused, OptionList)
        await pilot.press("tab", "tab", "enter")  # Reject with an empty reason
        await pilot.pause()
        assert isinstance(app.screen, RejectReason)
        assert plain(screen.query_one("#reason-error")) == "A reason is needed."
        assert dump(world.engine) == before
        # typing goes to the field, markup-looking text is kept literally
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await pilot.press("r")
        screen = await wait_screen(pilot, RejectReason)
        await pilot.press("m", "o", "v", "e", "d", "space", "left_square_bracket", "slash")
        await pilot.press("right_square_bracket")
        assert screen.query_one("#reason", Input).value == "moved [/]"
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert "Rejected REQ-1005: moved [/]" in notifications(app)
        assert app.is_running
    request = world.request("unknown")
    assert request.state == RequestState.REJECTED.value
    assert request.reject_reason == "moved [/]"


async def test_cancel_reject_changes_nothing(world: World) -> None:
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "partial")
        await pilot.press("r")
        await wait_screen(pilot, ScheduledWarning)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await pilot.press("r")
        await wait_screen(pilot, ScheduledWarning)
        await pilot.press("right", "enter")
        await wait_screen(pilot, RejectReason)
        await pilot.press("2", "escape")
        # Esc steps back one dialog: the reason to the warning, then to the list
        await wait_screen(pilot, ScheduledWarning)
        assert dump(world.engine) == before
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        # Link instead, then Esc on its first dialog: the warning again
        await pilot.press("r")
        await wait_screen(pilot, ScheduledWarning)
        await pilot.press("enter")
        await wait_screen(pilot, Candidates)
        hint = plain(app.screen.query_one(".dialog-hint", Static))
        assert "Esc: back, nothing changes" in hint
        await pilot.press("escape")
        await wait_screen(pilot, ScheduledWarning)
        await pilot.press("right", "enter")
        await wait_screen(pilot, RejectReason)
        await pilot.click("#cancel")  # Cancel ends the flow
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert dump(world.engine) == before


async def test_reopen_a_linked_request_withdraws_its_email(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("h")  # show handled requests
        await settle(pilot)
        await select(pilot, "greta")
        screen = main_screen(app)
        assert screen.selected is not None
        assert screen.selected.state is RequestState.LINKED
        # Accept and Reject do not apply to a linked request
        assert screen.check_action("accept", ()) is False
        assert screen.check_action("reject", ()) is False
        assert screen.check_action("reopen", ()) is True
        keys = screen.bottom_bar.keys_text
        assert "o Reopen" in keys and "a Accept" not in keys and "r Reject" not in keys
        await pilot.press("a", "r")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("o")
        await wait_screen(pilot, Confirm)
        assert "Reopen REQ-1009 from Greta Linked? It goes back to pending" in dialog_text(app)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert any("1 queued email withdrawn" in m for m in notifications(app))
        reopened = screen.selected  # read again: the reopen replaced the row
        assert reopened is not None
        assert reopened.state is RequestState.PENDING
        assert screen.check_action("reopen", ()) is False
    request = world.request("linked")
    assert request.state == RequestState.PENDING.value
    assert request.linked_appointment_id is None
    (email,) = world.outbox("linked")
    assert email.status == OutboxStatus.CANCELLED.value
    assert [e.action for e in world.audit("linked")] == ["link", "reopen"]


async def test_reopen_after_the_email_was_sent_warns(world: World) -> None:
    """The confirmation already went out: the question and the message say the patient
    has it (reopening does not take it back)."""
    report = world.services.deliver_outbox()
    assert report.sent == 1
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        await select(pilot, "greta")
        await pilot.press("o")
        await wait_screen(pilot, Confirm)
        text = dialog_text(app)
        assert "The patient already has the confirmation email (sent to greta@example.com" in (text)
        assert "Reopening does not take it back" in text
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert any(
            "Reopened REQ-1009" in m and "already has the confirmation email" in m
            for m in notifications(app)
        )
    (email,) = world.outbox("linked")
    assert email.status == OutboxStatus.SENT.value
    assert world.request("linked").state == RequestState.PENDING.value


async def test_reopen_cancelled_changes_nothing(world: World) -> None:
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        await select(pilot, "greta")
        await pilot.press("o")
        await wait_screen(pilot, Confirm)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert dump(world.engine) == before
