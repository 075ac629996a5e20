"""Snapshots of the main screen and every dialog, at 80x24 and 120x40.

Deterministic: the fixture practice, a fixed clock, and each snapshot taken only after
every worker has finished. Look at the report before ``--snapshot-update``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.accept import Candidates, ConfirmLink, EmailPrompt, ExactMatch, NoMatch
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.modals.reject import RejectReason, ScheduledWarning
from linker_tui.tui.screens.help import HelpScreen
from linker_tui.tui.screens.main import DECISION_GROUP, MainScreen
from linker_tui.tui.screens.outbox import OutboxScreen
from tests.tui.drive import LARGE, SMALL, select, settle, wait_screen, wait_until
from tests.tui.world import RefusingMailer, build_world

Steps = Callable[[Pilot[None]], Awaitable[None]]


Step = tuple[str, type[Screen[object]]]


async def _quiet(pilot: Pilot[None]) -> None:
    """Wait until every worker but the decision flow (which waits on the dialog) is done."""
    app = pilot.app
    await wait_until(
        pilot,
        lambda: all(w.is_finished or w.group == DECISION_GROUP for w in app.workers),
        "the workers to finish",
    )
    await pilot.pause()


def _goto(word: str | None, steps: tuple[Step, ...], *, handled: bool = False) -> Steps:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        if handled:
            await pilot.press("h")
            await settle(pilot)
        if word is not None:
            await select(pilot, word)
        for key, screen in steps:
            await pilot.press(key)
            await wait_screen(pilot, screen)
            await _quiet(pilot)

    return run


def _mail_failed(steps: tuple[Step, ...]) -> Steps:
    """The linked request's queued email fails for good (the server refuses it), then the
    list is refreshed and ``steps`` follow."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, LinkerApp)
        app.services.relay(RefusingMailer()).run_once()
        await pilot.press("f5")
        await settle(pilot)
        for key, screen in steps:
            await pilot.press(key)
            await wait_screen(pilot, screen)
            await settle(pilot)

    return run


async def _patient_search(pilot: Pilot[None]) -> None:
    await _goto("Zoe", (("p", PatientChooser),))(pilot)
    pilot.app.screen.query_one("#patient-search", Input).insert_text_at_cursor("lee")
    await pilot.press("enter")
    await _quiet(pilot)


CASES: dict[str, Steps] = {
    "main": _goto(None, ()),
    "main_handled": _goto(None, (("h", MainScreen),)),
    "exact": _goto("exact", (("a", ExactMatch),)),
    "candidates": _goto("partial", (("a", Candidates),)),
    "several": _goto("several", (("a", Candidates),)),
    "no_match": _goto("nothing", (("a", NoMatch),)),
    "confirm_link": _goto(
        "partial", (("a", Candidates), ("down", Candidates), ("enter", ConfirmLink))
    ),
    "email_yes": _goto(
        "exact", (("a", ExactMatch), ("enter", ConfirmLink), ("enter", EmailPrompt))
    ),
    "email_optout": _goto(
        "optout", (("a", ExactMatch), ("enter", ConfirmLink), ("enter", EmailPrompt))
    ),
    "email_noaddress": _goto(
        "noaddress", (("a", ExactMatch), ("enter", ConfirmLink), ("enter", EmailPrompt))
    ),
    "reject_warning": _goto("partial", (("r", ScheduledWarning),)),
    "reject_reason": _goto("unknown", (("r", RejectReason),)),
    "reopen": _goto("linked", (("o", Confirm),), handled=True),
    "help": _goto(None, (("question_mark", HelpScreen),)),
    "main_mail_failed": _mail_failed(()),
    "outbox": _mail_failed((("m", OutboxScreen),)),
    "patient_alike": _goto("REQ-1010", (("a", PatientChooser),)),
    "patient_search": _patient_search,
}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
@pytest.mark.parametrize("case", list(CASES))
def test_snapshot(
    snap_compare: Callable[..., bool], tmp_path: Path, case: str, size: tuple[int, int]
) -> None:
    world = build_world(tmp_path)
    app = LinkerApp(world.services, background_jobs=False)
    assert snap_compare(app, terminal_size=size, run_before=CASES[case])
