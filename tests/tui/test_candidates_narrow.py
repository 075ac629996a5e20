""" "Could this be the same appointment?" for a patient with very many appointments: the
nearest 20, "N more — type to narrow", typing narrows (real keys, a real SQLite file)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from linker_tui.store.enums import RequestState
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.candidates import Candidates, CandidateTable
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt
from linker_tui.tui.modals.narrow import NarrowField, NarrowLine
from linker_tui.tui.screens.main import MainScreen
from tests.tui.drive import (
    SMALL,
    dialog_text,
    focused,
    plain,
    quiet,
    select,
    settle,
    wait_screen,
)
from tests.tui.world import World, at, build_world, dump

MORE = 58
"""Appointments added to Bob's two: one a day at 15:00 from 2026-12-04 on."""


def _busy_bob(world: World) -> None:
    for n in range(MORE):
        start = at(12, 4, 15, 0) + timedelta(days=n)
        world.add_appointment(f"A-BOB-X{n}", "bob", "hyg", start, reason="Walk-in")


def _table(app: LinkerApp) -> CandidateTable:
    return app.screen.query_one(CandidateTable)


def _days(app: LinkerApp) -> list[str]:
    return [
        row[0].plain.lstrip("≠ ").strip()
        for row in map(_table(app).get_row_at, range(_row_count(app)))
    ]


def _row_count(app: LinkerApp) -> int:
    return _table(app).row_count


def _more(app: LinkerApp) -> str:
    """The count beside the narrowing field (or the line drawn before it is used)."""
    drawn = app.screen.query(NarrowLine)
    if drawn:
        return drawn.first().more.plain
    return plain(app.screen.query_one("#narrow-more", Static))


async def _open(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await select(pilot, "partial")
    await pilot.press("a")
    await wait_screen(pilot, Candidates)
    await quiet(pilot)


async def test_the_nearest_are_shown_with_the_count_and_typing_narrows(world: World) -> None:
    _busy_bob(world)
    before = dump(world.engine)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        assert "60 scheduled appointments, the 20 closest first." in dialog_text(app)
        assert _row_count(app) == 20
        assert _more(app) == "40 more — type to narrow"
        assert _days(app)[:2] == ["Thu 2026-12-03", "Fri 2026-12-04"]  # nearest first
        assert isinstance(app.focused, CandidateTable)
        # typing in the list goes to the narrowing field, which re-queries
        await pilot.press("2", "0", "2", "7", "minus", "0", "1", "minus", "2")
        await quiet(pilot)
        field = app.focused
        assert isinstance(field, NarrowField) and field.value == "2027-01-2"
        assert _days(app) == [f"{d} 2027-01-{n}" for d, n in _jan_days(20, 29)]
        assert "10 appointments match, closest first." in dialog_text(app)
        assert _more(app) == ""
        # more words narrow further (weekday, time, provider: all must occur)
        await pilot.press("space", "s", "a", "t", "space", "1", "5", "colon", "0", "0")
        await quiet(pilot)
        assert _days(app) == ["Sat 2027-01-23"]
        await pilot.press("space", "o", "s", "e", "i")  # Bob's 15:00 ones are the hygienist's
        await quiet(pilot)
        assert _row_count(app) == 0 and app.screen.query_one("#link").disabled
        assert "No scheduled appointment matches the narrowing." in dialog_text(app)
        # Esc empties the field: all of them again; a second Esc cancels, nothing changed
        await pilot.press("escape")
        await quiet(pilot)
        assert isinstance(app.screen, Candidates) and field.value == ""
        assert _row_count(app) == 20 and _more(app) == "40 more — type to narrow"
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
    assert dump(world.engine) == before


def _jan_days(first: int, last: int) -> list[tuple[str, int]]:
    names = ["Wed", "Thu", "Fri", "Sat", "Sun", "Mon", "Tue"]  # 2027-01-20 is a Wednesday
    return [(names[(n - 20) % 7], n) for n in range(first, last + 1)]


async def test_a_far_appointment_found_by_narrowing_is_linked(world: World) -> None:
    _busy_bob(world)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("j", "a", "n", "space", "3", "0")  # 2027-01-30, beyond the 20
        await quiet(pilot)
        assert _days(app) == ["Sat 2027-01-30"]
        await pilot.press("enter")  # Enter in the field: to the list
        assert isinstance(app.focused, CandidateTable)
        await pilot.press("enter")
        confirm = await wait_screen(pilot, ConfirmLink)
        assert "Sat 2027-01-30 15:00" in dialog_text(app)
        # a sync (or another desk) makes the dialog look again: the far appointment is
        # still there, not taken for one the sync removed
        assert isinstance(confirm, ConfirmLink)
        confirm.after_sync()
        await quiet(pilot)
        assert not confirm.gone and not confirm.query_one("#ok").disabled
        await pilot.press("escape")  # back one dialog: the narrowing is kept
        await wait_screen(pilot, Candidates)
        await quiet(pilot)
        assert app.screen.query_one("#narrow", Input).value == "jan 30"
        assert _days(app) == ["Sat 2027-01-30"]
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    request = world.request("partial")
    assert request.state == RequestState.LINKED.value
    assert request.linked_appointment_id == world.appointments[f"A-BOB-X{MORE - 1}"]


async def test_a_patient_with_few_appointments_shows_no_narrowing(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        assert "2 scheduled appointments, closest first." in dialog_text(app)
        assert not app.screen.query_one(NarrowLine).display
        assert _more(app) == ""
        await pilot.press("d", "e", "c", "space", "9", "colon")  # typing still narrows
        await quiet(pilot)
        assert app.screen.query_one("#narrow-row").display
        assert _days(app) == ["Thu 2026-12-10"]


async def _narrowing_dialog(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, LinkerApp)
    await _open(pilot)


def test_snapshot_of_the_dialog_with_more(
    snap_compare: Callable[..., bool], tmp_path: Path
) -> None:
    world = build_world(tmp_path)
    _busy_bob(world)
    app = LinkerApp(world.services, background_jobs=False)
    assert snap_compare(app, terminal_size=SMALL, run_before=_narrowing_dialog)


async def test_the_list_keys_and_mouse(world: World) -> None:
    """↑ ↓ PgUp PgDn ^Home ^End move the cursor and keep it in view under the header; a
    click puts the cursor on a row, a second click on it chooses it; → with the columns
    fitting goes to the next widget (as with the DataTable the list replaced)."""
    _busy_bob(world)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        table = _table(app)
        body = table.scrollable_content_region.height - 1  # rows in view under the header
        assert table.cursor_row == 0 and body == 8
        await pilot.press("pagedown")
        assert table.cursor_row == body and table.scroll_y == body
        await pilot.press("down")
        assert table.cursor_row == body + 1
        await pilot.press("pageup")
        assert table.cursor_row == 1 and table.scroll_y <= 1
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.cursor_row == 19 and table.scroll_y == 20 - body
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("up", "home", "end")
        assert table.cursor_row == 0 and app.focused is table
        await pilot.click(CandidateTable, offset=(5, 3))  # the third row
        assert table.cursor_row == 2 and app.focused is table
        third = _days(app)[2]
        await pilot.click(CandidateTable, offset=(5, 3))
        await wait_screen(pilot, ConfirmLink)
        assert third in dialog_text(app)
        await pilot.press("escape")
        await wait_screen(pilot, Candidates)
        await quiet(pilot)
        table = _table(app)
        assert table.cursor_row == 2
        await pilot.press("right")  # the next widget: the narrowing field
        assert isinstance(app.focused, NarrowField)


async def test_keys_typed_together_all_reach_the_narrowing_field(world: World) -> None:
    """Typing fast into the list (the keys arrive back to back, as from one read of the
    terminal): every character reaches the narrowing field, in order, also those that
    were on their way to the list when the first one moved the focus to the field."""
    _busy_bob(world)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        assert isinstance(app.focused, CandidateTable)
        typed = "jan 30"
        for character in typed:
            app.post_message(events.Key("space" if character == " " else character, character))
        await quiet(pilot)
        field = app.screen.query_one(NarrowField)
        assert field.value == typed and focused(app) is field
        assert _days(app) == ["Sat 2027-01-30"]


async def test_a_key_on_its_way_to_the_list_when_the_focus_moved_is_not_lost(
    world: World,
) -> None:
    """A key the app has handed to the list, when the focus moves to the narrowing field
    before the list has handled it (the first character typed moves it), still goes
    into the field when it bubbles up to the dialog."""
    _busy_bob(world)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("j")
        field = app.screen.query_one(NarrowField)
        await pilot.press("down")  # back to the list
        assert app.focused is _table(app) and field.value == "j"
        app.post_message(events.Key("a", "a"))  # the app hands it to the list…
        app.call_later(app.screen.set_focus, field)  # …and then the focus moves
        await pilot.press("n")
        await quiet(pilot)
        assert field.value == "jan"


async def test_tab_and_a_click_reach_the_narrowing_field(world: World) -> None:
    """The narrowing row is drawn as one line until it is used: Tab from the list, and
    Shift+Tab back from the buttons, reach the field as before, and so does a click."""
    _busy_bob(world)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        assert app.screen.query(NarrowLine) and not app.screen.query(NarrowField)
        await pilot.press("tab")
        field = focused(app)
        assert isinstance(field, NarrowField) and field.value == ""
        assert not app.screen.query(NarrowLine)
        assert _more(app) == "40 more — type to narrow"
        await pilot.press("tab")
        link = focused(app)
        assert isinstance(link, Button) and link.id == "link"
        await pilot.press("shift+tab", "j", "a", "n")
        await quiet(pilot)
        assert focused(app) is field and field.value == "jan"
        await pilot.press("escape", "escape")
        await wait_screen(pilot, MainScreen)
        await pilot.press("a")
        await wait_screen(pilot, Candidates)
        await quiet(pilot)
        await pilot.click(NarrowLine)
        assert isinstance(focused(app), NarrowField)
