"""Reading a whole request: the detail pane marks what it cuts, Enter opens every field and
the note in full (scrolling), Esc goes back, a decision key starts the decision."""

from __future__ import annotations

from sqlmodel import select as sql_select

from linker_tui.store.db import write_session
from linker_tui.store.models import OnlineRequest
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.link import ExactMatch
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.screens.request import RequestScreen
from linker_tui.tui.widgets.detail import fit
from tests.tui.drive import LARGE, SMALL, main_screen, select, settle, wait_screen
from tests.tui.world import World

ALLERGY = (
    "IMPORTANT: I am allergic to penicillin and latex, please tell the hygienist. "
    "I also take blood thinners (warfarin) since my surgery in March, so my gums may "
    "bleed more than usual. I would prefer the morning because I pick up my children "
    "at 3 pm. If the dentist is running late please call my mobile rather than my home "
    "phone. Thank you so much for fitting me in, the last visit was great!!!!!"
)
LONG_NOTE = ALLERGY + "\n\nSecond paragraph: " + "the rest of the story. " * 40 + "THE END"


def set_note(world: World, key: str, note: str) -> None:
    with write_session(world.engine) as s:
        request = s.exec(
            sql_select(OnlineRequest).where(OnlineRequest.id == world.requests[key])
        ).one()
        request.note = note
        s.add(request)


def test_fit_marks_every_cut_with_an_ellipsis() -> None:
    from textual.content import Content

    text = Content("one\ntwo three four five six seven\neight")
    assert fit(text, 40, 3) is text  # it fits: unchanged
    cut = fit(text, 12, 3, "⏎: read all").plain.split("\n")
    assert len(cut) == 3
    assert all(len(row) <= 12 for row in cut)
    assert cut[-1].endswith("…") or cut[-1].endswith("… ⏎: read all")
    assert "…" in fit(text, 30, 2, "⏎: read all").plain


async def test_the_pane_marks_a_long_note_and_enter_shows_all_of_it(world: World) -> None:
    assert len(ALLERGY) == 392
    set_note(world, "exact", ALLERGY)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1001")
        drawn = main_screen(app).detail.shown
        assert len(drawn) == 6
        assert any(row.startswith("Note: IMPORTANT: I am allergic") for row in drawn)
        assert drawn[-1].endswith("… ⏎: read all")
        assert "visit was great" not in " ".join(drawn)

        await pilot.press("enter")
        screen = await wait_screen(pilot, RequestScreen)
        assert isinstance(screen, RequestScreen)
        await settle(pilot)
        text = screen.text()
        assert ALLERGY in text
        for label, value in (
            ("Name", "Jane Exact"),
            ("Born", "1980-01-02"),
            ("Reason", "Cleaning"),
        ):
            assert f"{label}\n{value}" in text
        assert "Dr. Amelia Chen" in text or "Chen" in text

        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        selected = main_screen(app).selected
        assert selected is not None and selected.id == world.requests["exact"]


async def test_a_note_longer_than_the_screen_scrolls_and_keeps_its_paragraphs(
    world: World,
) -> None:
    set_note(world, "exact", LONG_NOTE)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1001")
        await pilot.press("enter")
        screen = await wait_screen(pilot, RequestScreen)
        await settle(pilot)
        assert isinstance(screen, RequestScreen)
        assert LONG_NOTE in screen.text()  # the blank line between the paragraphs is kept
        body = screen.query_one("#request-body")
        assert body.max_scroll_y > 0
        assert body.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert body.scroll_y > 0
        await pilot.press("end")
        await pilot.pause(0.1)
        assert body.scroll_y == body.max_scroll_y


async def test_accept_from_the_whole_request_starts_the_accept_flow(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1001")
        await pilot.press("enter")
        screen = await wait_screen(pilot, RequestScreen)
        await settle(pilot)
        assert isinstance(screen, RequestScreen)
        assert not screen.check_action("reopen", ())  # an open request
        await pilot.press("o")  # does nothing here
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)


async def test_a_handled_request_offers_reopen_not_accept(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        await select(pilot, "REQ-1009")
        await pilot.press("enter")
        screen = await wait_screen(pilot, RequestScreen)
        await settle(pilot)
        assert isinstance(screen, RequestScreen)
        text = screen.text()
        assert "Linked to" in text and "Decided by\ntester@desk-1" in text
        assert screen.check_action("reopen", ()) and not screen.check_action("accept", ())
        await pilot.press("a")
        await pilot.pause()
        assert app.screen is screen


async def test_hostile_text_on_the_request_screen_is_literal(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1008")
        await pilot.press("enter")
        screen = await wait_screen(pilot, RequestScreen)
        await settle(pilot)
        assert isinstance(screen, RequestScreen)
        text = screen.text()
        assert "[b]not bold[/b]" in text
        assert "[red]pain[/red]" in text
        assert not any(ord(c) < 32 and c != "\n" for c in text)
        assert app.is_running  # the [@click=app.quit] name did nothing


def test_enter_taken_by_another_action_is_a_settings_error() -> None:
    from linker_tui.settings.keymap import keymap_problems

    problems = keymap_problems({"linker.accept": "enter,a"})
    assert problems == [
        "'enter' is bound to both linker.open and linker.accept in the request list"
    ]
