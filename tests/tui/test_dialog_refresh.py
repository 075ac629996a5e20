"""An open Accept dialog follows a sync in place: the candidates list keeps the highlighted
appointment, a cancelled appointment can no longer be confirmed, and the no-match box says
when the sync brought something."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button

from linker_tui.db import read_session
from linker_tui.models import OnlineRequest
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.accept import (
    GONE,
    Candidates,
    CandidateTable,
    ConfirmLink,
    EmailPrompt,
    ExactMatch,
    NoMatch,
)
from linker_tui.tui.screens.main import MainScreen
from tests.sync_support import ExportData, appointment, patient, provider
from tests.tui.drive import SMALL, dialog_text, select, settle, wait_screen, wait_until
from tests.tui.world import World, build_world, dump


def _world(tmp_path: Path) -> tuple[World, Path]:
    export = tmp_path / "export"
    export.mkdir()
    return build_world(tmp_path, pms_export_dir=export), export


def _carla_export(*, cancel: str) -> ExportData:
    """Carla's three appointments as the PMS has them, ``cancel`` cancelled meanwhile."""
    rows = [
        ("A-CARLA-1", "2026-12-02T09:30", "DOC1"),
        ("A-CARLA-2", "2026-12-03T14:00", "DOC1"),
        ("A-CARLA-3", "2026-12-05T11:00", "HYG1"),
    ]
    return ExportData(
        providers=[provider("DOC1"), provider("HYG1", "Jo", "Smith")],
        patients=[patient("PAT-carla", "Carla", "Several", "1980-01-02")],
        appointments=[
            appointment(
                pms_id,
                "PAT-carla",
                start,
                doctor,
                status="cancelled" if pms_id == cancel else "scheduled",
            )
            for pms_id, start, doctor in rows
        ],
    )


def _linked_to(world: World, key: str) -> int | None:
    with read_session(world.engine) as s:
        request = s.get(OnlineRequest, world.requests[key])
        assert request is not None
        return request.linked_appointment_id


async def test_candidates_follow_a_sync_keeping_the_highlighted_appointment(
    tmp_path: Path,
) -> None:
    world, export = _world(tmp_path)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "several")
        await pilot.press("a")
        screen = await wait_screen(pilot, Candidates)
        assert isinstance(screen, Candidates)
        candidates = screen.query_one(CandidateTable)
        assert candidates.row_count == 3
        assert "3 scheduled appointments" in dialog_text(app)
        await pilot.press("down", "down")
        chosen = candidates.highlighted()
        assert chosen is not None and chosen.appointment.pms_id == "A-CARLA-3"

        # The PMS cancels A-CARLA-2 (listed first, closest to the request); a sync runs.
        _carla_export(cancel="A-CARLA-2").write(export, age=60)
        app.sync_now()
        await wait_until(pilot, lambda: candidates.row_count == 2, "the dialog to refresh")
        assert "2 scheduled appointments" in dialog_text(app)
        still = candidates.highlighted()
        assert still is not None and still.appointment.pms_id == "A-CARLA-3"
        assert [c.appointment.pms_id for c in candidates.candidates] == ["A-CARLA-1", "A-CARLA-3"]

        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert _linked_to(world, "several") == world.appointments["A-CARLA-3"]


async def test_confirm_of_an_appointment_a_sync_cancelled_cannot_be_ok(tmp_path: Path) -> None:
    world, export = _world(tmp_path)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "several")
        await pilot.press("a")
        await wait_screen(pilot, Candidates)
        await pilot.press("enter")  # the first: A-CARLA-2
        confirm = await wait_screen(pilot, ConfirmLink)
        assert isinstance(confirm, ConfirmLink)
        assert confirm.candidate.appointment.pms_id == "A-CARLA-2"
        before = dump(world.engine)

        _carla_export(cancel="A-CARLA-2").write(export, age=60)
        app.sync_now()
        ok = confirm.query_one("#ok", Button)
        await wait_until(pilot, lambda: ok.disabled, "OK to be disabled")
        assert GONE in dialog_text(app)
        assert app.focused is confirm.query_one("#cancel", Button)  # Enter now cancels
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert dump(world.engine) == before
    assert _linked_to(world, "several") is None


async def test_no_match_says_when_a_sync_brought_an_appointment(tmp_path: Path) -> None:
    world, export = _world(tmp_path)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "nothing")
        await pilot.press("a")
        await wait_screen(pilot, NoMatch)
        ExportData(
            providers=[provider("DOC1")],
            patients=[patient("PAT-dan", "Dan", "Nothing", "1980-01-02")],
            appointments=[appointment("A-DAN-NEW", "PAT-dan", "2026-12-20T09:30")],
        ).write(export, age=60)
        app.sync_now()
        await wait_until(
            pilot,
            lambda: "The last sync brought 1 scheduled appointment" in dialog_text(app),
            "the no-match box to say so",
        )


async def test_exact_match_cancelled_by_a_sync_can_no_longer_be_linked(tmp_path: Path) -> None:
    world, export = _world(tmp_path)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "exact")
        await pilot.press("a")
        exact = await wait_screen(pilot, ExactMatch)
        assert isinstance(exact, ExactMatch)
        link = exact.query_one("#link", Button)
        assert not link.disabled and GONE not in dialog_text(app)
        ExportData(
            providers=[provider("DOC1")],
            patients=[patient("PAT-jane", "Jane", "Exact", "1980-01-02")],
            appointments=[
                appointment("A-EXACT", "PAT-jane", "2026-12-03T09:30", status="cancelled")
            ],
        ).write(export, age=60)
        app.sync_now()
        await wait_until(pilot, lambda: link.disabled, "Link to be disabled")
        assert GONE in dialog_text(app)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
    assert _linked_to(world, "exact") is None
