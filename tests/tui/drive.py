"""Helpers that drive the app with real keys and wait for its workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from textual.content import Content
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from linker_tui.tui.app import LinkerApp
from linker_tui.tui.screens.main import DECISION_GROUP, MainScreen
from linker_tui.tui.widgets.detail import DetailPane
from linker_tui.tui.widgets.request_list import RequestList

ScreenT = TypeVar("ScreenT", bound=Screen[Any])

Size = tuple[int, int]
SMALL: Size = (80, 24)
LARGE: Size = (120, 40)


async def wait_until(
    pilot: Pilot[None], predicate: Callable[[], bool], what: str, timeout: float = 5.0
) -> None:
    """Let the app run until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.005)


async def settle(pilot: Pilot[None]) -> None:
    """Wait until no worker runs (list, detail, decision) twice in a row."""
    app = pilot.app
    for _ in range(2):
        await wait_until(
            pilot, lambda: all(w.is_finished for w in app.workers), "the workers to finish"
        )
        await pilot.pause()


async def wait_screen(pilot: Pilot[None], kind: type[ScreenT]) -> ScreenT:
    """Wait until a screen of ``kind`` is on top (and has settled); returns it."""
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


async def wait_dialog(pilot: Pilot[None]) -> None:
    """Wait until a dialog is on top of the request list."""
    app = pilot.app
    await wait_until(pilot, lambda: len(app.screen_stack) > 1, "a dialog")
    await pilot.pause()


def focused(app: LinkerApp) -> Widget | None:
    """The focused widget, read afresh (a key press moves it; mypy keeps no narrowing)."""
    return app.focused


def main_screen(app: LinkerApp) -> MainScreen:
    """The request list screen (wherever the stack is)."""
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


def selected_id(app: LinkerApp) -> int | None:
    """The id of the request under the list's cursor (None: no row)."""
    selected = main_screen(app).selected
    return None if selected is None else selected.id


def table(app: LinkerApp) -> RequestList:
    return main_screen(app).table


async def select(pilot: Pilot[None], word: str) -> None:
    """Filter the list by ``word`` and check the cursor is on that request.

    ``/`` and Enter are real keys; the word is pasted into the field at once (typing it
    key by key is tested once, in the filter test, and costs ~0.1 s a key).
    """
    await pilot.press("slash")
    field = pilot.app.focused
    assert isinstance(field, Input)
    field.insert_text_at_cursor(word)
    await pilot.press("enter")
    await settle(pilot)
    screen = main_screen(pilot.app)  # type: ignore[arg-type]
    assert screen.selected is not None, f"nothing listed for {word!r}"
    listed = f"{screen.selected.typed_name} {screen.selected.external_id}".lower()
    assert word.lower() in listed


def plain(widget: Widget) -> str:
    """The text a Static (or the main screen's detail pane) shows."""
    assert isinstance(widget, Static | DetailPane), type(widget)
    content = widget.content
    assert isinstance(content, Content), type(content)
    return content.plain


def dialog_text(app: LinkerApp) -> str:
    """All the text of the dialog on top."""
    return "\n".join(plain(w) for w in app.screen.query(".dialog-text").results(Static))


def notifications(app: LinkerApp) -> list[str]:
    """Messages of the notifications shown so far."""
    return [n.message for n in app._notifications]


async def quiet(pilot: Pilot[None]) -> None:
    """Wait until every worker but the decision flow (which waits on a dialog) is done."""
    app = pilot.app
    await wait_until(
        pilot,
        lambda: all(w.is_finished or w.group == DECISION_GROUP for w in app.workers),
        "the workers to finish",
    )
    await pilot.pause()
