""" "Is this the same patient?": choose, search, cancel — with real keys; every test checks
the database afterwards."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Button, Input

from linker_tui.store.enums import OutboxStatus, RequestState
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.candidates import NoMatch
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactMatch
from linker_tui.tui.modals.patient import PatientChooser, PatientTable, SearchField
from linker_tui.tui.screens.main import MainScreen
from tests.tui.drive import (
    SMALL,
    dialog_text,
    main_screen,
    notifications,
    plain,
    quiet,
    select,
    settle,
    wait_screen,
)
from tests.tui.world import FAMILY_PHONE, World, dump


def _chooser(app: LinkerApp) -> PatientChooser:
    screen = app.screen
    assert isinstance(screen, PatientChooser)
    return screen


def _names(app: LinkerApp) -> list[str]:
    return [c.patient.display_name for c in _chooser(app).query_one(PatientTable).candidates]


def _row_text(app: LinkerApp, index: int) -> list[str]:
    table = _chooser(app).query_one(PatientTable)
    return [c.plain for c in table.get_row_at(index)]


async def test_accept_asks_which_patient_then_links(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")  # "Sam Lee": Samuel or Samantha, same phone
        await pilot.press("a")
        await wait_screen(pilot, PatientChooser)
        await quiet(pilot)
        text = dialog_text(app)
        assert f"Typed:   Sam Lee · no birth date · {FAMILY_PHONE} · no email" in text
        assert "✓ agrees  ~ close  ✗ differs  · missing" in text
        assert "score alike" in text  # two candidates alike: nothing is picked for staff
        assert _names(app) == ["Lee, Samuel", "Lee, Samantha", "Lee, Simon"]
        assert _row_text(app, 0)[:3] == ["✓✓ Lee, Samuel", "· 1990-03-04", f"✓ {FAMILY_PHONE}"]
        assert _row_text(app, 2)[0] == "✗✓ Lee, Simon"
        assert isinstance(app.focused, PatientTable) and app.focused.cursor_row == 0
        assert world.request("twins").patient_id is None  # the cursor chose nothing
        await pilot.press("down")
        await pilot.pause()
        why = plain(app.screen.query_one("#patient-why"))
        assert why == (
            "Lee, Samantha (PAT-samantha): first name agrees (nickname of samantha); "
            "last name agrees; phone agrees (shared with other patients)"
        )
        await pilot.press("enter")
        # the appointment step follows with the new version: Samantha's exact appointment
        await wait_screen(pilot, ExactMatch)
        assert "Patient: Lee, Samantha" in dialog_text(app)
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert any("Patient: Lee, Samantha (PAT-samantha)" in m for m in notifications(app))

    request = world.request("twins")
    assert request.state == RequestState.LINKED.value
    assert request.patient_id == world.patients["samantha"]
    assert request.patient_chosen_by == "tester@desk-1"
    assert request.linked_appointment_id == world.appointments["A-SAMANTHA"]
    audit = world.audit("twins")
    assert [e.action for e in audit] == ["link"]  # the choice is saved with the link
    assert audit[0].detail.startswith("patient PAT-samantha Lee, Samantha chosen (")
    (email,) = world.outbox("twins")
    assert email.status == OutboxStatus.QUEUED.value  # no scheduler in this test
    assert email.to_address == "samantha.lee@example.com"


async def test_cancel_changes_nothing(world: World) -> None:
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")
        await pilot.press("a")
        await wait_screen(pilot, PatientChooser)
        await pilot.press("down", "escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        # the same from the "p" key, after a search
        await pilot.press("p")
        await wait_screen(pilot, PatientChooser)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        app.focused.insert_text_at_cursor("1990-03-04")
        await pilot.press("enter")
        await quiet(pilot)
        assert _names(app) == ["Lee, Samuel"]
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert dump(world.engine) == before


PATIENT_STEP_CANCELS: list[tuple[list[str], type[Screen[Any]], list[type[Screen[Any]]]]] = [
    # Sam Lee: Samuel or Samantha; the highlighted one is chosen, nothing is written yet.
    # (keys, the dialog the last key is pressed on, the dialogs further Escs step back to)
    (["escape"], PatientChooser, []),
    # Esc steps back one dialog, down to "Is this the same patient?"; Cancel ends
    (["down", "enter", "escape"], ExactMatch, [PatientChooser]),
    (["down", "enter", "enter", "escape"], ConfirmLink, [ExactMatch, PatientChooser]),
    (["down", "enter", "enter", "right", "enter"], ConfirmLink, []),  # Cancel button
    (
        ["down", "enter", "enter", "enter", "escape"],
        EmailPrompt,
        [ConfirmLink, ExactMatch, PatientChooser],
    ),
    # Simon Lee has no appointment: the no-match dialog after the choice
    (["down", "down", "enter", "escape"], NoMatch, [PatientChooser]),
]


async def test_esc_after_choosing_a_patient_changes_nothing(world: World) -> None:
    """Choosing a patient in Accept is saved with the final OK: Esc on every later dialog
    leaves every table as it was."""
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")
        for keys, last_screen, back in PATIENT_STEP_CANCELS:
            await pilot.press("a")
            await wait_screen(pilot, PatientChooser)
            await quiet(pilot)
            for key in keys[:-1]:
                await pilot.press(key)
                await pilot.pause()
            await wait_screen(pilot, last_screen)
            await quiet(pilot)
            await pilot.press(keys[-1])
            for dialog in back:
                await wait_screen(pilot, dialog)
                await quiet(pilot)
                assert dump(world.engine) == before, (keys, dialog)
                await pilot.press("escape")
            await wait_screen(pilot, MainScreen)
            await settle(pilot)
            assert dump(world.engine) == before, keys
        assert not any("patient set" in m for m in notifications(app))


async def test_do_this_later_saves_the_chosen_patient_with_it(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")
        await pilot.press("a")
        await wait_screen(pilot, PatientChooser)
        await quiet(pilot)
        await pilot.press("down", "down", "enter")  # Simon: nothing scheduled
        await wait_screen(pilot, NoMatch)
        assert "Lee, Simon (chosen now, saved with the decision)" in dialog_text(app)
        await pilot.press("right", "enter")  # Do this later
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    request = world.request("twins")
    assert request.state == RequestState.WAITING_PMS.value
    assert request.patient_id == world.patients["simon"]
    assert request.patient_chosen_by == "tester@desk-1"
    (event,) = world.audit("twins")
    assert event.action == "defer"
    assert event.detail.startswith("patient PAT-simon Lee, Simon chosen (")


async def test_patient_key_search_then_choose(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "Zoe")  # nobody resembles "Zoe Unknown"
        await pilot.press("p")
        await wait_screen(pilot, PatientChooser)
        await quiet(pilot)
        assert _names(app) == []
        assert "Nobody resembles what was typed" in plain(app.screen.query_one("#patients-title"))
        assert app.screen.query_one("#choose").disabled
        field = app.focused
        assert isinstance(field, Input)  # with nobody to show, the search is open
        field.insert_text_at_cursor("[/] \x1b[2J")
        await pilot.press("enter")
        await quiet(pilot)
        title = plain(app.screen.query_one("#patients-title"))
        assert title.startswith("Nobody found for “[/] [2J”")  # literally, not markup
        # Esc in the search goes back to the candidates (none), not out of the dialog
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PatientChooser)
        await pilot.press("s")
        field = app.focused
        assert isinstance(field, Input) and field.value == ""
        field.insert_text_at_cursor("lee")
        await pilot.press("enter")
        await quiet(pilot)
        assert _names(app) == ["Lee, Samuel", "Lee, Samantha", "Lee, Simon"]
        assert "3 patients found for “lee”" in plain(app.screen.query_one("#patients-title"))
        await pilot.press("down", "down", "enter")
        # a decision of its own: confirmed, and Cancel is the default (Simon's birth date
        # is not the one typed)
        await wait_screen(pilot, Confirm)
        assert "the patient becomes Lee, Simon (PAT-simon)" in dialog_text(app)
        assert "The birth date differs: typed 1980-01-02, in the PMS 1961-05-06." in dialog_text(
            app
        )
        assert app.focused is not None and app.focused.id == "cancel"
        assert world.request("unknown").patient_id is None  # nothing written yet
        await pilot.press("left", "enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert any("patient set to Lee, Simon (PAT-simon)" in m for m in notifications(app))
        row = main_screen(app).selected
        assert row is not None and row.patient_id == world.patients["simon"]

    request = world.request("unknown")
    assert request.state == RequestState.PENDING.value
    assert request.patient_id == world.patients["simon"]
    assert [e.action for e in world.audit("unknown")] == ["choose_patient"]


async def test_patient_key_applies_to_open_requests_only(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.check_action("patient", ()) is True
        await pilot.press("p")  # Jane Exact, matched when the request arrived
        await wait_screen(pilot, PatientChooser)
        await quiet(pilot)
        assert _row_text(app, 0)[0] == "✓✓ Exact, Jane (current)"
        assert "(PAT-jane, the current patient)" in plain(app.screen.query_one("#patient-why"))
        await pilot.press("enter")  # choosing the same patient confirms it, audited
        await wait_screen(pilot, Confirm)
        assert app.focused is not None and app.focused.id == "ok"  # the birth date agrees
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert world.request("exact").patient_chosen_by == "tester@desk-1"
        assert [e.action for e in world.audit("exact")] == ["choose_patient"]
        await pilot.press("h")
        await settle(pilot)
        await select(pilot, "Greta")
        assert screen.check_action("patient", ()) is False
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_dialog_keeps_its_buttons_on_a_short_terminal(world: World) -> None:
    """Warning, search row and results at 80x24: the table gives up rows, not the buttons."""
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")
        await pilot.press("a")
        await wait_screen(pilot, PatientChooser)
        await pilot.press("slash")
        field = app.focused
        assert isinstance(field, Input)
        field.insert_text_at_cursor("1980-01-02")  # 7 patients share this birth date
        await pilot.press("enter")
        await quiet(pilot)
        await pilot.pause()
        assert len(_names(app)) == 7
        screen = _chooser(app)
        dialog = screen.query_one(".dialog").region
        assert dialog.y >= 0 and dialog.bottom <= SMALL[1]
        buttons = list(screen.query(Button).results())
        assert len(buttons) == 3
        assert all(b.region.height == 3 and b.region.bottom <= dialog.bottom for b in buttons)
        hint = screen.query_one(".dialog-hint").region
        assert hint.height == 1 and hint.bottom <= dialog.bottom
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)


async def test_the_search_key_opens_the_search_and_is_not_typed(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")  # three possible patients
        await pilot.press("a")
        await wait_screen(pilot, PatientChooser)
        await quiet(pilot)
        hint = app.screen.query_one(".dialog-hint")
        assert plain(hint) == PatientChooser.HINT_TEXT
        for key in ("slash", "s"):
            await pilot.press(key)
            await pilot.pause()
            field = app.focused
            assert isinstance(field, SearchField) and field.value == ""
            # the hint says what to do now, not to press / again
            assert plain(hint) == PatientChooser.SEARCH_HINT
            await pilot.press("slash")  # pressed again: the search is already open
            await pilot.pause()
            assert field.value == ""
            await pilot.press("escape")  # back to the candidates, and their hint
            await pilot.pause()
            assert isinstance(app.focused, PatientTable)
            assert plain(hint) == PatientChooser.HINT_TEXT
        await pilot.press("slash", "l", "e", "e", "slash")  # a "/" inside is typed
        assert isinstance(app.focused, SearchField) and app.focused.value == "lee/"
        await pilot.press("escape", "escape")
        await wait_screen(pilot, MainScreen)
    assert world.request("twins").patient_id is None


async def test_with_nobody_to_show_the_search_is_open_and_says_so(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "Zoe")  # nobody resembles "Zoe Unknown"
        await pilot.press("p")
        await wait_screen(pilot, PatientChooser)
        await quiet(pilot)
        field = app.focused
        assert isinstance(field, SearchField)
        title = plain(app.screen.query_one("#patients-title"))
        assert title == (
            "Nobody resembles what was typed: type a name, birth date or phone to search."
        )
        assert "(/)" not in dialog_text(app) and "/ search" not in dialog_text(app)
        assert plain(app.screen.query_one(".dialog-hint")) == PatientChooser.SEARCH_HINT
        await pilot.press("slash")  # what the old hint asked for: not typed
        await pilot.press("s", "i", "m", "o", "n", "space", "l", "e", "e")  # "s" is typed
        assert field.value == "simon lee"
        await pilot.press("enter")
        await quiet(pilot)
        assert _names(app) == ["Lee, Simon"]
        await pilot.press("escape")  # the results have the focus: Esc cancels
        await wait_screen(pilot, MainScreen)
    assert world.request("unknown").patient_id is None
