"""The Accept flow, driven with real keys; every test checks the database afterwards."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Button, Static

from linker_tui.common.actor import Actor
from linker_tui.store.enums import OutboxStatus, RequestState
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.candidates import Candidates, CandidateTable, NoMatch
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.screens.outbox import OutboxScreen, OutboxTable
from linker_tui.workflow.decisions import Workflow
from linker_tui.workflow.practice import PracticeInfo
from tests.tui.drive import (
    SMALL,
    dialog_text,
    main_screen,
    notifications,
    plain,
    select,
    settle,
    table,
    wait_dialog,
    wait_screen,
    wait_until,
)
from tests.tui.world import World, at, dump


def _linked_to(world: World, key: str) -> int | None:
    request = world.request(key)
    assert request.state == RequestState.LINKED.value
    return request.linked_appointment_id


async def test_exact_match_links_and_sends_the_email(world: World) -> None:
    """With the scheduler running: the link queues the email, the relay job sends it (file
    backend), and the outbox shows it as sent."""
    app = LinkerApp(world.services)
    outbox_dir = world.services.settings.effective_outbox_dir
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "exact")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        assert "Thu 2026-12-03 09:30 with Dr. Amelia Chen, OP1, Cleaning" in dialog_text(app)
        assert app.focused is not None and app.focused.id == "link"
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        assert "Nothing differs" in dialog_text(app)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        assert "jane.exact@example.com" in dialog_text(app)
        assert app.focused is not None and app.focused.id == "yes"
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert any(
            "Linked REQ-1001 to Thu 2026-12-03 09:30" in m
            and "Confirmation email queued for jane.exact@example.com" in m
            for m in notifications(app)
        )
        # the filter still shows "exact": the linked request left the open list
        assert table(app).row_count == 0
        await wait_until(
            pilot,
            lambda: (
                f"Confirmation email to jane.exact@example.com written to {outbox_dir} "
                "(mail is not sent: mail_backend = file)." in notifications(app)
            ),
            "the relay job to send the email",
        )
        await pilot.press("m")
        outbox = await wait_screen(pilot, OutboxScreen)
        await settle(pilot)
        assert isinstance(outbox, OutboxScreen)
        rows = {e.to_address: e.status for e in outbox.query_one(OutboxTable).records}
        assert rows["jane.exact@example.com"] is OutboxStatus.SENT
        assert rows["greta@example.com"] is OutboxStatus.SENT  # queued before the app started

    assert _linked_to(world, "exact") == world.appointments["A-EXACT"]
    request = world.request("exact")
    assert request.decided_by == "tester@desk-1"
    (email,) = world.outbox("exact")
    assert email.status == OutboxStatus.SENT.value
    assert email.to_address == "jane.exact@example.com"
    assert [e.action for e in world.audit("exact")] == ["link"]


async def test_partial_pick_the_second_candidate(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "partial")
        await pilot.press("a")
        screen = await wait_screen(pilot, Candidates)
        candidates = screen.query_one(CandidateTable)
        assert candidates.row_count == 2
        assert "Requested:  Thu 2026-12-03 09:30 with Dr. Amelia Chen" in dialog_text(app)
        first = [c.plain for c in candidates.get_row_at(0)]
        # date same, time and provider differ: marked with text, not only colour
        assert first[0].startswith(" Thu 2026-12-03")
        assert first[1].startswith("≠10:00")
        assert first[2].startswith("≠Dr. Ben Osei")
        assert first[5] == "time, provider"
        second = [c.plain for c in candidates.get_row_at(1)]
        assert second[0].startswith("≠Thu 2026-12-10")
        assert second[5] == "date"
        await pilot.press("down", "enter")
        await wait_screen(pilot, ConfirmLink)
        text = dialog_text(app)
        assert "≠ date     Thu 2026-12-03 → Thu 2026-12-10" in text
        assert "time     09:30 (same)" in text
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert _linked_to(world, "partial") == world.appointments["A-BOB-2"]


async def test_esc_on_link_this_request_steps_back_to_the_appointments(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "partial")
        await pilot.press("a")
        await wait_screen(pilot, Candidates)
        await pilot.press("down", "enter")
        await wait_screen(pilot, ConfirmLink)
        hint = plain(app.screen.query_one(".dialog-hint", Static))
        assert "Esc: back, nothing changes" in hint
        await pilot.press("escape")
        screen = await wait_screen(pilot, Candidates)
        # the list again, the cursor on the appointment chosen before
        assert screen.query_one(CandidateTable).cursor_row == 1
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        assert "≠ date     Thu 2026-12-03 → Thu 2026-12-10" in dialog_text(app)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert _linked_to(world, "partial") == world.appointments["A-BOB-2"]
    assert [e.action for e in world.audit("partial")] == ["link"]


async def test_none_of_these_then_do_this_later(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "partial")
        await pilot.press("a")
        await wait_screen(pilot, Candidates)
        await pilot.press("right", "right")
        assert app.focused is not None and app.focused.id == "none_of_these"
        await pilot.press("enter")
        first = await wait_screen(pilot, NoMatch)
        text = dialog_text(app)
        assert "has 2 scheduled appointments; none is the one asked for." in text
        assert app.focused is not None and app.focused.id == "try_again"
        await pilot.press("enter")  # Try again: a sync brings nothing new
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, NoMatch) and app.screen is not first,
            "the second check",
        )
        await pilot.pause()
        assert "Still nothing — checked at 09:00 after a sync." in dialog_text(app)
        await pilot.press("right", "enter")  # Do this later
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    request = world.request("partial")
    assert request.state == RequestState.WAITING_PMS.value
    assert [e.action for e in world.audit("partial")] == ["defer"]


async def test_partial_with_other_time_and_provider(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "partial")
        await pilot.press("a")
        await wait_screen(pilot, Candidates)
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        text = dialog_text(app)
        assert "Requested:  Thu 2026-12-03 09:30 with Dr. Amelia Chen" in text
        assert "Scheduled:  Thu 2026-12-03 10:00 with Dr. Ben Osei, OP2, Checkup" in text
        assert "≠ time     09:30 → 10:00" in text
        assert "≠ provider Dr. Amelia Chen → Dr. Ben Osei" in text
        assert "date     Thu 2026-12-03 (same)" in text
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert _linked_to(world, "partial") == world.appointments["A-BOB-1"]
    (email,) = world.outbox("partial")
    assert "10:00" in email.body_text  # the email shows the scheduled time


async def test_several_candidates_pick_the_third(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "several")
        await pilot.press("a")
        screen = await wait_screen(pilot, Candidates)
        assert screen.query_one(CandidateTable).row_count == 3
        await pilot.press("down", "down")
        # the button links the highlighted row too
        await pilot.press("tab", "enter")
        await wait_screen(pilot, ConfirmLink)
        assert "Sat 2026-12-05 11:00 with Jo Smith, HYG, Hygiene" in dialog_text(app)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert _linked_to(world, "several") == world.appointments["A-CARLA-3"]


async def test_none_then_try_again_finds_the_new_appointment(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "nothing")
        await pilot.press("a")
        await wait_screen(pilot, NoMatch)
        assert "Nothing, Dan" in dialog_text(app)
        assert "no scheduled appointment" in dialog_text(app)
        # meanwhile the appointment is booked in the PMS and synced
        world.add_appointment("A-DAN-NEW", "dan", "chen", at(12, 3, 9, 30))
        await pilot.press("enter")  # Try again
        await wait_screen(pilot, ExactMatch)
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert _linked_to(world, "none") == world.appointments["A-DAN-NEW"]


async def test_none_try_again_still_nothing_then_cancel(world: World) -> None:
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "nothing")
        await pilot.press("a")
        first = await wait_screen(pilot, NoMatch)
        await pilot.press("enter")  # Try again
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, NoMatch) and app.screen is not first,
            "the second check",
        )
        await pilot.pause()
        assert "Still nothing — checked at 09:00 after a sync." in dialog_text(app)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert dump(world.engine) == before


async def test_none_do_this_later_marks_waiting_for_pms(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "unknown")
        await pilot.press("a")
        await wait_screen(pilot, NoMatch)
        assert "patient not found (no patient with this name)" in dialog_text(app)
        await pilot.press("right", "enter")  # Do this later
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        # still listed (it is open), now waiting
        screen = main_screen(app)
        assert screen.selected is not None
        assert screen.selected.id == world.requests["unknown"]
        assert screen.selected.state is RequestState.WAITING_PMS
        assert "Waiting for PMS 1" in screen.top_bar.counts_shown
    request = world.request("unknown")
    assert request.state == RequestState.WAITING_PMS.value
    assert [e.action for e in world.audit("unknown")] == ["defer"]


CANCELS: list[tuple[str, list[str], type[Screen[Any]], list[type[Screen[Any]]]]] = [
    # (request, keys, the dialog the last key is pressed on, the dialogs Esc steps back to)
    ("exact", ["escape"], ExactMatch, []),
    ("exact", ["right", "enter"], ExactMatch, []),  # Cancel button
    ("exact", ["enter", "escape"], ConfirmLink, [ExactMatch]),
    ("exact", ["enter", "right", "enter"], ConfirmLink, []),  # Cancel button
    ("exact", ["enter", "enter", "escape"], EmailPrompt, [ConfirmLink, ExactMatch]),
    ("exact", ["enter", "enter", "right", "right", "enter"], EmailPrompt, []),  # Cancel button
    ("partial", ["escape"], Candidates, []),
    ("partial", ["right", "right", "right", "enter"], Candidates, []),  # Cancel button
    ("partial", ["enter", "escape"], ConfirmLink, [Candidates]),
    ("partial", ["enter", "right", "enter"], ConfirmLink, []),  # Cancel button
    ("partial", ["enter", "enter", "escape"], EmailPrompt, [ConfirmLink, Candidates]),
    ("partial", ["enter", "enter", "right", "right", "enter"], EmailPrompt, []),  # Cancel
    ("partial", ["right", "right", "enter", "escape"], NoMatch, [Candidates]),  # None of these
    ("partial", ["right", "right", "enter", "right", "right", "enter"], NoMatch, []),  # Cancel
    ("nothing", ["escape"], NoMatch, []),
    ("nothing", ["right", "right", "enter"], NoMatch, []),  # Cancel button
    ("REQ-1010", ["escape"], PatientChooser, []),
    ("REQ-1010", ["down", "enter", "escape"], ExactMatch, [PatientChooser]),
    ("REQ-1010", ["down", "enter", "enter", "escape"], ConfirmLink, [ExactMatch, PatientChooser]),
    (
        "REQ-1010",
        ["down", "enter", "enter", "enter", "escape"],
        EmailPrompt,
        [ConfirmLink, ExactMatch, PatientChooser],
    ),
]


async def test_esc_steps_back_one_dialog_and_cancel_ends_changing_nothing(world: World) -> None:
    """Esc (or Cancel) on every dialog of every Accept path: Esc steps back one dialog at a
    time (the email prompt to "Link this request?", the appointments to "Is this the same
    patient?"), Cancel ends the flow; online_request (with its patient link), audit_event
    and email_outbox are as before at every step."""
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        selected = ""
        for word, keys, last_screen, back in CANCELS:
            if word != selected:
                await pilot.press("slash", "escape")
                await select(pilot, word)
                selected = word
            await pilot.press("a")
            for key in keys[:-1]:
                await wait_dialog(pilot)
                await pilot.press(key)
            await wait_screen(pilot, last_screen)
            if back:
                hint = plain(app.screen.query_one(".dialog-hint", Static))
                assert "Esc: back, nothing changes" in hint, (word, keys)
            await pilot.press(keys[-1])
            for dialog in back:
                await wait_screen(pilot, dialog)
                assert dump(world.engine) == before, (word, keys, dialog)
                await pilot.press("escape")
            await wait_screen(pilot, MainScreen)
            await settle(pilot)
            assert dump(world.engine) == before, (word, keys)
            assert main_screen(app).selected is not None  # still listed


async def test_patient_who_opted_out_gets_no_by_default(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "optout")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        assert "The patient asked not to be emailed." in dialog_text(app)
        assert "olive@example.com" in dialog_text(app)
        assert app.focused is not None and app.focused.id == "no"
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert any("No confirmation email" in m for m in notifications(app))
    assert _linked_to(world, "optout") == world.appointments["A-OLIVE"]
    assert world.outbox("optout") == []


async def test_patient_without_address_links_without_email(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "noaddress")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        screen = await wait_screen(pilot, EmailPrompt)
        assert "no email will be sent" in dialog_text(app)
        assert not screen.query("#yes")
        focused = app.focused
        assert isinstance(focused, Button) and focused.id == "no"
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert _linked_to(world, "noaddress") == world.appointments["A-NOAH"]
    assert world.outbox("noaddress") == []


async def test_change_from_another_desk_is_refused(world: World) -> None:
    services = world.services
    other = Workflow(
        world.engine,
        services.clock,
        Actor("other", "desk-2"),
        services.settings.tz,
        PracticeInfo("Maple Grove Dental"),
    )
    app = LinkerApp(services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "exact")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        # another workstation decides while the dialog is open
        other.reject(world.requests["exact"], "Duplicate request", expected_version=1)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1
        assert "already rejected (Duplicate request) by other@desk-2" in errors[0].message
        assert "Nothing was changed" in errors[0].message
        assert app.is_running
        assert table(app).row_count == 0  # the list was refreshed: no longer open
    request = world.request("exact")
    assert request.state == RequestState.REJECTED.value
    assert request.decided_by == "other@desk-2"
    assert request.linked_appointment_id is None
    assert [e.action for e in world.audit("exact")] == ["reject"]
    assert world.outbox("exact") == []


async def test_link_dialog_follows_another_desks_decision(world: World) -> None:
    """With the live refresh on, "Link this request?" learns that another desk rejected the
    request while it was open: OK is disabled and the dialog says who and when."""
    services = world.services
    other = Workflow(
        world.engine,
        services.clock,
        Actor("other", "desk-2"),
        services.settings.tz,
        PracticeInfo("Maple Grove Dental"),
    )
    app = LinkerApp(services, background_jobs=False, live_seconds=0.1)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "exact")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("enter")
        screen = await wait_screen(pilot, ConfirmLink)
        assert not screen.query_one("#ok", Button).disabled
        other.reject(world.requests["exact"], "Duplicate request", expected_version=1)
        await wait_until(
            pilot,
            lambda: screen.query_one("#ok", Button).disabled,
            "the open dialog to follow the other desk's decision",
        )
        assert (
            "Decided at another desk meanwhile. This request was already rejected "
            "(Duplicate request) by other@desk-2 at Fri 2026-11-27 09:00"
        ) in dialog_text(app)
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert not [n for n in app._notifications if n.severity == "error"]
    request = world.request("exact")
    assert request.state == RequestState.REJECTED.value
    assert request.decided_by == "other@desk-2"
    assert [e.action for e in world.audit("exact")] == ["reject"]
