"""The request list: hostile text, filter, handled toggle, paging, keys, help, palette."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from linker_tui.store.db import write_session
from linker_tui.store.models import OnlineRequest
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.candidates import Candidates, NoMatch
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactMatch
from linker_tui.tui.modals.reject import RejectReason, ScheduledWarning
from linker_tui.tui.screens.help import HelpScreen
from linker_tui.tui.screens.main import MainScreen
from tests.tui.drive import (
    LARGE,
    SMALL,
    dialog_text,
    focused,
    main_screen,
    plain,
    select,
    settle,
    table,
    wait_screen,
)
from tests.tui.world import (
    HOSTILE_FIRST,
    PRACTICE,
    World,
    at,
    build_world,
)


async def test_first_screen_shows_counts_rows_and_detail(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.top_bar.practice_text == PRACTICE  # literally, not markup
        counts = screen.top_bar.counts_shown
        assert counts == "Pending 9 · Waiting for PMS 0 · Linked 1 · Rejected 0"
        assert screen.top_bar.status_text == "rows 1\u20139 of 9 · open"
        rows = table(app)
        assert rows.row_count == 9
        first = [c.plain for c in rows.get_row(str(world.requests["exact"]))]
        assert first[:3] == ["11-26 08:15", "Jane Exact", "Thu 12-03 09:30"]
        assert first[3].startswith("Dr. Am")  # cut to fit 80 columns
        assert first[4:] == ["Cleaning", "exact match"]
        detail = plain(screen.detail)
        assert "REQ-1001 · Pending" in detail
        assert "Patient: Exact, Jane" in detail
        assert "Requested: Thu 2026-12-03 09:30 with Dr. Amelia Chen · Cleaning" in detail
        await pilot.press("down")
        await settle(pilot)
        assert "REQ-1002" in plain(screen.detail)


async def test_hostile_text_is_shown_literally(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot)
        await select(pilot, "click")
        row = [c.plain for c in table(app).get_row(str(world.requests["hostile"]))]
        assert row[1].startswith("[@click=app.quit]x[/]")
        assert "\x1b" not in row[1]
        assert row[3].startswith("[bold]Mal [/]")
        assert row[4] == "[red]pain[/red]"
        detail = plain(main_screen(app).detail)
        assert "Typed: [@click=app.quit]x[/] [31mred[/]" in detail
        assert "Note: [b]not bold[/b] ]0;title [/] end" in detail
        assert "\x1b" not in detail and "\x07" not in detail
        # clicking the name must not run the action hidden in it
        await pilot.click(offset=(15, 3))  # the list starts on line 2
        await pilot.pause()
        assert app.is_running
        # the dialogs show it literally too
        await pilot.press("a")
        await wait_screen(pilot, NoMatch)
        assert HOSTILE_FIRST in dialog_text(app)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert app.is_running


async def test_practice_name_and_notifications_are_never_markup(tmp_path: Path) -> None:
    world = build_world(tmp_path, practice="[/] \x1b[2J [@click=app.quit]Q[/]")
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert main_screen(app).top_bar.practice_text == "[/] [2J [@click=app.quit]Q[/]"
        assert app.is_running


async def test_filter_typed_with_keys_and_escape_clears_it(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("slash", "o", "l", "i", "v")
        await settle(pilot)
        screen = main_screen(app)
        assert table(app).row_count == 1
        assert screen.selected is not None and screen.selected.typed_name == "Olive Optout"
        # keys of the list do not fire while typing
        assert isinstance(focused(app), Input)
        await pilot.press("a", "enter")
        await settle(pilot)
        assert table(app).row_count == 0
        assert plain(screen.detail) == "No requests to show."
        assert screen.top_bar.status_text == "no open requests"
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert screen.query_one("#filter", Input).value == ""
        assert app.focused is table(app)  # the list has the keys again
        assert table(app).row_count == 9


async def test_handled_toggle_adds_the_state_column(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot)
        assert len(table(app).columns) == 6
        await pilot.press("h")
        await settle(pilot)
        rows = table(app)
        assert len(rows.columns) == 7
        assert rows.row_count == 10
        linked = [c.plain for c in rows.get_row(str(world.requests["linked"]))]
        assert linked[-1] == "linked"
        assert main_screen(app).top_bar.status_text == "rows 1\u201310 of 10 · all"
        await pilot.press("h")
        await settle(pilot)
        assert table(app).row_count == 9


def _add_bulk_requests(world: World, count: int) -> None:
    """``count`` more pending requests (BULK-0000 ...), received a second apart."""
    with write_session(world.engine) as session:
        for n in range(count):
            session.add(
                OnlineRequest(
                    external_id=f"BULK-{n:04d}",
                    received_at=at(11, 27, 8, 0) + timedelta(seconds=n),
                    typed_first_name="Bulk",
                    typed_last_name=f"Person{n}",
                    requested_start=at(12, 14, 9, 0),
                )
            )


async def test_pages_of_a_hundred(world: World) -> None:
    _add_bulk_requests(world, 150)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert table(app).row_count == 100
        assert screen.top_bar.status_text == "rows 1\u2013100 of 159 · open · [ ] page"
        assert screen.check_action("previous_page", ()) is None
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert table(app).row_count == 59
        assert screen.top_bar.status_text.startswith("rows 101\u2013159 of 159")
        assert screen.selected is not None and screen.selected.external_id == "BULK-0091"
        await pilot.press("right_square_bracket")  # no further page
        await settle(pilot)
        assert screen.page_offset == 100
        await pilot.press("ctrl+pageup")
        await settle(pilot)
        assert table(app).row_count == 100
        assert screen.selected is not None and screen.selected.external_id == "REQ-1001"


async def test_first_frame_is_the_real_layout_saying_it_is_loading(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the first frame shows (the screen starts loading right after it): the header,
    the list's header line saying it is loading, the key bar. Then the page follows."""
    seen: dict[str, object] = {}
    start = MainScreen._start

    def first_frame(screen: MainScreen) -> None:
        rows = screen.table
        seen.update(
            loaded=rows.loaded,
            header=rows.render_line(0).text.split(),
            first=rows.render_line(1).text.strip(),
            practice=screen.top_bar.practice_text,
            keys=screen.bottom_bar.keys_text,
        )
        start(screen)

    monkeypatch.setattr(MainScreen, "_start", first_frame)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert seen == {
            "loaded": False,
            "header": ["Received", "Name", "Requested", "Provider", "Reason", "Match"],
            "first": "Loading requests…",
            "practice": PRACTICE,
            "keys": "h Handled  / Filter  m Mail  y Sync  f5 Refresh  ? Help  q Quit  ^p palette",
        }
        assert table(app).loaded and table(app).row_count == 9
        assert table(app).render_line(1).text.startswith("11-26 08:15 Jane Exact")


async def test_list_keys_and_mouse_move_the_cursor(world: World) -> None:
    _add_bulk_requests(world, 150)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        rows = table(app)
        screen = main_screen(app)
        assert rows.row_count == 100 and rows.cursor_row == 0 and rows.scroll_y == 0
        await pilot.press("ctrl+end")
        await settle(pilot)
        assert rows.cursor_row == 99
        assert screen.selected == rows.rows_shown[99]
        assert rows.scroll_y == rows.max_scroll_y > 0  # the last row is in view
        assert screen.selected.external_id in plain(screen.detail)
        await pilot.press("ctrl+home")
        await settle(pilot)
        assert rows.cursor_row == 0 and rows.scroll_y == 0
        # in view: the screen less header, filter, list header, detail (7), status, keys
        body = rows.body_height()
        assert body == SMALL[1] - 2 - 1 - 7 - 2
        await pilot.press("pagedown")
        await settle(pilot)
        assert rows.cursor_row == body
        await pilot.press("pageup", "up")
        await settle(pilot)
        assert rows.cursor_row == 0
        await pilot.press("down", "down")
        await settle(pilot)
        assert rows.cursor_row == 2
        # a click on the fourth line of the list (the header is the first)
        await pilot.click(offset=(3, 6))  # the 4th row: header on line 2
        await settle(pilot)
        assert rows.cursor_row == 3
        assert screen.selected == rows.rows_shown[3]
        assert rows.rows_shown[3].external_id in plain(screen.detail)


async def test_wheel_scrolls_the_list_and_a_resize_keeps_the_cursor_in_view(
    world: World,
) -> None:
    _add_bulk_requests(world, 40)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        rows = table(app)
        for _ in range(3):  # the wheel over the list scrolls it; the cursor stays put
            rows.post_message(events.MouseScrollDown(rows, 5, 4, 0, 1, 0, False, False, False))
        await settle(pilot)
        assert rows.scroll_y == 3 and rows.cursor_row == 0
        first_shown = rows.render_line(1).text  # the first row in view, under the header
        assert first_shown.startswith(rows.get_row(str(rows.rows_shown[3].id))[0].plain)
        await pilot.press("ctrl+end")
        await settle(pilot)
        await pilot.resize_terminal(80, 18)  # the list gets 6 lines: the header and 5 rows
        await settle(pilot)
        assert rows.body_height() == 18 - 2 - 1 - 7 - 2
        last = rows.row_count - 1
        assert rows.cursor_row == last
        assert rows.scroll_y <= last < rows.scroll_y + rows.body_height()


async def test_help_lists_every_key(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        screen = await wait_screen(pilot, HelpScreen)
        text = "\n".join(plain(s) for s in screen.query("#help-grid Static").results(Static))
        for expected in (
            "Accept the highlighted request",
            "Reject the highlighted request",
            "Put a linked or rejected request back to pending",
            "Show or hide requests that are already linked or rejected",
            "Show the next page",
            "Reload the list",
            "Command palette",
        ):
            assert expected in text
        assert "\na\nAccept the highlighted request" in text
        assert "\nf5 ^r\nReload the list" in text
        assert "\nm\nOpen the mail outbox" in text
        assert "\np\nChoose or change which PMS patient" in text
        assert "\nr\nOutbox: send the highlighted failed email again" in text
        assert "\n/ s\nPatient dialog: search patients" in text
        assert "\nesc\nDialogs: Esc steps back one dialog" in text
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)


async def test_keys_can_be_remapped_from_the_settings(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.services.settings.keys.update({"linker.accept": "x", "linker.quit": "ctrl+q"})
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("x")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await pilot.press("q")  # no longer quits
        await pilot.pause()
        assert app.is_running
        await pilot.press("question_mark")
        screen = await wait_screen(pilot, HelpScreen)
        text = "\n".join(plain(s) for s in screen.query("#help-grid Static").results(Static))
        assert "\nx\nAccept the highlighted request" in text


async def test_command_palette_offers_the_actions(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(main_screen(app))]
        for title in (
            "Accept request",
            "Reject request",
            "Show or hide handled requests",
            "Filter the list",
            "Refresh the list",
            "Help",
            "Quit",
        ):
            assert title in titles
        assert "Reopen request" not in titles  # the highlighted request is open
        await pilot.press("ctrl+p")
        await wait_screen(pilot, CommandPalette)
        await pilot.press("A", "c", "c", "e", "p", "t")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)


async def test_no_colour_marks_the_app_monochrome(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert app.has_class("-mono")
        # the cursor row (the list's first row) shows without colour: reversed, and bold
        # while the list has the keys
        rows = table(app)
        cursor = [segment.style for segment in rows.render_line(1) if segment.text.strip()]
        assert cursor and all(s is not None and s.reverse and s.bold for s in cursor)
        await pilot.press("slash")  # the filter field takes the keys: the list is blurred
        await settle(pilot)
        cursor = [segment.style for segment in rows.render_line(1) if segment.text.strip()]
        assert cursor and all(s is not None and s.reverse and not s.bold for s in cursor)


def _fits(screen: Screen[Any], size: tuple[int, int]) -> None:
    width, height = size
    dialog = screen.query_one(".dialog").region
    assert dialog.x >= 0 and dialog.y >= 0
    assert dialog.right <= width and dialog.bottom <= height
    buttons = list(screen.query(Button).results())
    assert buttons and all(b.region.bottom <= dialog.bottom for b in buttons)
    assert all(b.region.height == 3 for b in buttons)  # not squeezed


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_dialogs_fit_the_screen(world: World, size: tuple[int, int]) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await select(pilot, "several")
        await pilot.press("a")
        _fits(await wait_screen(pilot, Candidates), size)
        await pilot.press("enter")
        _fits(await wait_screen(pilot, ConfirmLink), size)
        await pilot.press("enter")
        _fits(await wait_screen(pilot, EmailPrompt), size)
        back: tuple[type[Screen[Any]], ...] = (ConfirmLink, Candidates, MainScreen)
        for back_to in back:  # Esc: one dialog back
            await pilot.press("escape")
            await wait_screen(pilot, back_to)
        await pilot.press("r")
        _fits(await wait_screen(pilot, ScheduledWarning), size)
        await pilot.press("right", "enter")
        _fits(await wait_screen(pilot, RejectReason), size)
        for back_to in (ScheduledWarning, MainScreen):
            await pilot.press("escape")
            await wait_screen(pilot, back_to)
        await pilot.press("question_mark")
        help_screen = await wait_screen(pilot, HelpScreen)
        assert help_screen.query_one("#help").region.bottom <= size[1]


async def test_refresh_shows_changes_made_elsewhere(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        keys = main_screen(app).bottom_bar.keys_text
        assert "a Accept" in keys and "r Reject" in keys and "o Reopen" not in keys
        assert table(app).row_count == 9
        # another desk defers a request and rejects another one
        workflow = world.services.workflow
        workflow.defer(world.requests["unknown"], expected_version=1)
        workflow.reject(world.requests["hostile"], "Duplicate request", expected_version=1)
        await pilot.press("f5")
        await settle(pilot)
        assert table(app).row_count == 8
        counts = main_screen(app).top_bar.counts_shown
        assert counts == "Pending 7 · Waiting for PMS 1 · Linked 1 · Rejected 1"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert table(app).row_count == 8


async def test_tab_key_bar_clicks_scrollbar_drag_and_detail_selection(world: World) -> None:
    """The screen is made of ordinary widgets: Tab moves between the list and the filter,
    a click on a key presses it, the list's scrollbar can be dragged, the detail pane's
    text can be selected."""
    _add_bulk_requests(world, 40)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        rows = table(app)
        assert focused(app) is rows
        await pilot.press("tab")
        assert focused(app) is screen.query_one("#filter", Input)
        await pilot.press("shift+tab")
        assert app.focused is rows
        # a click on "h Handled" in the key bar (the last line) shows the handled requests
        keys = screen.bottom_bar.keys_text
        await pilot.click(offset=(keys.index("Handled"), SMALL[1] - 1))
        await settle(pilot)
        assert screen.list_query.show_handled
        # the scrollbar (the list's last column) dragged down scrolls the list
        assert rows.scroll_y == 0 and rows.max_scroll_y > 0
        await pilot.mouse_down(offset=(SMALL[0] - 1, 3))
        await pilot.hover(offset=(SMALL[0] - 1, 8))
        await pilot.mouse_up(offset=(SMALL[0] - 1, 8))
        await settle(pilot)
        assert rows.scroll_y > 0
        # the detail pane's first line, selected with the mouse
        top = screen.detail.region.y + 1  # under the rule
        await pilot.mouse_down(offset=(1, top))
        await pilot.hover(offset=(30, top))
        await pilot.mouse_up(offset=(30, top))
        await pilot.pause()
        selected = screen.get_selected_text()
        assert selected is not None and selected.startswith("REQ-1001")
