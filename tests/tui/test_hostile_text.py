"""Terminal safety: text from patients, the PMS, the mail server or an error never reaches
the screen with a control character in it, and notifications can only be made safely.

Every piece of data in a small practice is made hostile (every class of control character
from ``tests.hostile``); the app is walked with real keys through the list, the detail
pane, every dialog, every toast, the outbox and the sync runs; at each step everything the
compositor would write (each screen's strips) and every notification is checked.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

import linker_tui
from linker_tui.mail.report import Outcome, RelayReport, RelayResult
from linker_tui.mail.transport import DeliveryFailure
from linker_tui.store.db import write_session
from linker_tui.store.models import OnlineRequest
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.jobs import JobFailed, OutboxDelivered
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.modals.reject import RejectReason, ScheduledWarning
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.screens.outbox import OutboxScreen
from linker_tui.tui.screens.sync_runs import SyncRunsScreen
from tests.hostile import X, bad_characters, hostile, hostile_inbox, make_hostile
from tests.tui.drive import LARGE, quiet, settle, wait_screen, wait_until
from tests.tui.world import World


class HostileMailer:
    """A mail server whose refusals carry every control class."""

    def deliver(self, message: object) -> None:
        raise DeliveryFailure(f"550 no such user {X}", permanent=True)


def shown(app: LinkerApp) -> list[str]:
    """Bad characters in what the screens would draw and in the notifications."""
    found: list[str] = []
    for screen in app.screen_stack:
        for strip in screen._compositor.render_strips():
            for segment in strip:
                found += bad_characters(segment.text)
    for note in app._notifications:
        found += bad_characters(note.message) + bad_characters(note.title)
    return found


async def choose(pilot: Pilot[None], word: str) -> None:
    """Filter the list by ``word`` (the field emptied first): the cursor on that request."""
    await pilot.press("slash")
    field = pilot.app.focused
    assert isinstance(field, Input)
    field.value = word
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    assert screen.selected is not None and word in screen.selected.external_id, word


async def check(pilot: Pilot[None], where: str) -> None:
    """Let the screen settle, then nothing from data may be on it."""
    await pilot.pause()
    app = pilot.app
    assert isinstance(app, LinkerApp)
    assert shown(app) == [], where


async def test_hostile_data_never_reaches_the_screen(world: World) -> None:
    make_hostile(world.engine)
    hostile_inbox(world.services.settings.effective_inbox_dir)
    world.services.sync_now(trigger="manual")  # a run with problems named after the files
    world.services.relay(HostileMailer()).run_once()  # the linked request's email fails
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot)
        await check(pilot, "the list")
        for row in range(len(world.requests)):
            await pilot.press("down")
            await settle(pilot)
            await check(pilot, f"the detail pane of row {row}")

        # accept: exact match → confirm → email → toast with provider and patient
        await choose(pilot, "REQ-1001")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await check(pilot, "exact match dialog")
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await check(pilot, "confirm link dialog")
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await check(pilot, "email prompt")
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        await check(pilot, "the linked toast")
        assert any(n.message.startswith("Linked REQ-1001") for n in app._notifications)

        # reject with a hostile typed reason, after the scheduled-appointments warning
        await choose(pilot, "REQ-1002")
        await pilot.press("r")
        await wait_screen(pilot, ScheduledWarning)
        await check(pilot, "scheduled warning")
        await pilot.press("right", "enter")
        screen = await wait_screen(pilot, RejectReason)
        field = screen.query_one("#reason", Input)
        field.focus()
        field.insert_text_at_cursor(f"typed {X}")
        await check(pilot, "reject reason dialog")
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        await check(pilot, "the rejected toast")
        assert any(n.message.startswith("Rejected REQ-1002") for n in app._notifications)

        # reopen the linked one (handled requests shown)
        await pilot.press("h")
        await settle(pilot)
        await choose(pilot, "REQ-1001")
        await pilot.press("o")
        await wait_screen(pilot, Confirm)
        await check(pilot, "reopen question")
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        await check(pilot, "the reopened toast")

        # choose a patient for the unknown one
        await choose(pilot, "REQ-1005")
        await pilot.press("p")
        await wait_screen(pilot, PatientChooser)
        await quiet(pilot)
        await check(pilot, "patient chooser")
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)

        # a decision refused by the core (the request changed meanwhile): str(error)
        await choose(pilot, "REQ-1004")
        await pilot.press("r")
        screen = await wait_screen(pilot, RejectReason)
        with write_session(world.engine) as s:
            request = s.get(OnlineRequest, world.requests["none"])
            assert request is not None
            request.version += 1
        field = screen.query_one("#reason", Input)
        field.focus()
        field.insert_text_at_cursor("x")
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        await wait_until(
            pilot, lambda: any(n.severity == "error" for n in app._notifications), "an error"
        )
        await check(pilot, "the refused decision's error")

        # the app's own toasts about mail and background jobs, with hostile text in them
        app._awaited.update({1: f"a{X}@example.com", 2: f"b{X}@example.com"})
        later = world.services.clock.now() + timedelta(minutes=5)
        report = RelayReport(
            (
                RelayResult(1, Outcome.RETRY, f"421 busy {X}", later),
                RelayResult(2, Outcome.FAILED, f"550 gone {X}"),
            )
        )
        app.post_message(OutboxDelivered(report))
        app.post_message(JobFailed(f"job{X}", RuntimeError(f"boom {X}")))
        app.notify(f"direct {X}", title=f"title {X}", markup=True)
        app.screen.notify(f"screen {X}", title=X)
        await settle(pilot)
        await check(pilot, "mail and job toasts")

        # the outbox (failed email with the server's hostile reason) and the sync runs
        app.clear_notifications()
        await pilot.press("m")
        await wait_screen(pilot, OutboxScreen)
        await settle(pilot)
        await check(pilot, "the outbox")
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await pilot.press("Y")
        await wait_screen(pilot, SyncRunsScreen)
        await settle(pilot)
        await check(pilot, "the sync runs")
        await pilot.press("y")  # sync now, from the runs screen: its toast
        await wait_until(pilot, lambda: bool(app._notifications), "the sync toast")
        await settle(pilot)
        await check(pilot, "the sync toast")


async def test_a_notification_shows_the_literal_cleaned_text(world: World) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot)
        app.screen.notify(hostile("msg", surrogate=True), title=hostile("title"), markup=True)
        app.notify("[b]not bold[/b]")
        await pilot.pause()
        await check(pilot, "toasts")
        first, second = (n.message for n in app._notifications)
        assert first.startswith("msg ]0;PWNED-TITLE]52;c;UFdORUQ=]8;;http://pwned.example/")
        assert first.endswith("[@click=app.quit]x[/] [b] msg\ufffd")
        assert second == "[b]not bold[/b]"
        assert app.is_running


SOURCE = Path(linker_tui.__file__).parent
NO_TOUCH = {"Notification", "Notify", "Toast", "ToastRack", "_notifications", "from_markup"}
"""Names that would make a toast or parse markup without :class:`SafeApp`."""
PLAIN_WIDGETS = {"Static", "Label", "Button", "Option", "update"}
"""Widgets (and ``Static.update``) that would parse a plain string as markup."""


def test_the_only_way_to_a_toast_is_the_safe_app() -> None:
    """Read the source: one App class (SafeApp), every app derives from it, nothing builds a
    notification or parses markup itself, no widget gets an f-string (data as markup)."""
    problems: list[str] = []
    for path in sorted(SOURCE.rglob("*.py")):
        where = path.relative_to(SOURCE)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and str(where) != "tui/safe.py":
                bases = [ast.unparse(b) for b in node.bases]
                if any(b == "App" or b.startswith("App[") for b in bases):
                    problems.append(f"{where}: {node.name} derives from App, not SafeApp")
                if "Input" in bases:
                    problems.append(f"{where}: {node.name} derives from Input, not SafeInput")
            elif isinstance(node, ast.Call) and ast.unparse(node.func) == "Input":
                problems.append(f"{where}:{node.lineno}: Input(), not SafeInput()")
            elif isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                if name in NO_TOUCH:
                    problems.append(f"{where}:{node.lineno}: uses {name}")
            elif (
                isinstance(node, ast.keyword)
                and node.arg == "markup"
                and not (isinstance(node.value, ast.Constant) and node.value.value is False)
            ):
                problems.append(f"{where}:{node.value.lineno}: markup={ast.unparse(node.value)}")
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in PLAIN_WIDGETS and isinstance(node.args[0], ast.JoinedStr | ast.BinOp):
                    problems.append(f"{where}:{node.lineno}: {name}() of an f-string")
    assert problems == [], "\n".join(problems)
    assert LinkerApp.notify.__qualname__ == "SafeApp.notify"
