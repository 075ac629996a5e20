"""An open Accept dialog follows a sync in place: the candidates list keeps the highlighted
appointment, a cancelled appointment can no longer be confirmed, and the no-match box says
when the sync brought something."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Static

from linker_tui.store.db import read_session
from linker_tui.store.models import OnlineRequest
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.candidates import Candidates, CandidateTable, NoMatch
from linker_tui.tui.modals.checked import GONE
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactMatch
from linker_tui.tui.modals.patient import PatientChooser, PatientTable
from linker_tui.tui.modals.reject import ScheduledWarning
from linker_tui.tui.screens.main import MainScreen
from tests.sync_support import ExportData, appointment, patient, provider
from tests.tui.drive import (
    SMALL,
    dialog_text,
    plain,
    quiet,
    select,
    settle,
    wait_screen,
    wait_until,
)
from tests.tui.world import FAMILY_PHONE, World, at, build_world, dump


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


async def test_reject_warning_follows_a_sync_that_cancels_the_appointments(
    tmp_path: Path,
) -> None:
    world, export = _world(tmp_path)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "partial")
        await pilot.press("r")
        warning = await wait_screen(pilot, ScheduledWarning)
        assert "This patient has 2 scheduled appointments" in dialog_text(app)
        ExportData(
            providers=[provider("DOC1"), provider("DOC2", "Ben", "Osei")],
            patients=[patient("PAT-bob", "Bob", "Partial", "1980-01-02")],
            appointments=[
                appointment("A-BOB-1", "PAT-bob", "2026-12-03T10:00", "DOC2", status="cancelled"),
                appointment("A-BOB-2", "PAT-bob", "2026-12-10T09:30", status="cancelled"),
            ],
        ).write(export, age=60)
        app.sync_now()
        link_instead = warning.query_one("#link_instead", Button)
        await wait_until(pilot, lambda: link_instead.disabled, "Link instead to be disabled")
        assert "The last sync left no scheduled appointment" in dialog_text(app)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)


async def test_patient_chooser_ranks_again_after_a_sync_keeping_the_highlight(
    tmp_path: Path,
) -> None:
    world, export = _world(tmp_path)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "REQ-1010")  # "Sam Lee": Samuel or Samantha, same phone
        await pilot.press("a")
        chooser = await wait_screen(pilot, PatientChooser)
        assert isinstance(chooser, PatientChooser)
        await quiet(pilot)
        table = chooser.query_one(PatientTable)
        names = [c.patient.display_name for c in table.candidates]
        assert names == ["Lee, Samuel", "Lee, Samantha", "Lee, Simon"]
        await pilot.press("down")
        # The PMS gets another Lee on the family phone: a sync brings her in.
        ExportData(
            providers=[provider("DOC1")],
            patients=[
                patient("PAT-sammy", "Sammy", "Lee", "2001-02-03", phone_mobile=FAMILY_PHONE)
            ],
        ).write(export, age=60)
        app.sync_now()
        await wait_until(pilot, lambda: len(table.candidates) == 4, "the chooser to rank again")
        assert "Lee, Sammy" in [c.patient.display_name for c in table.candidates]
        current = table.highlighted()
        assert current is not None and current.patient.display_name == "Lee, Samantha"
        assert "4 possible patients" in plain(chooser.query_one("#patients-title", Static))
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
    assert world.request("twins").patient_id is None


async def test_exact_match_other_appointments_follow_a_sync(tmp_path: Path) -> None:
    world, export = _world(tmp_path)
    world.add_appointment("A-JANE-2", "jane", "chen", at(12, 9, 9, 0))
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await select(pilot, "exact")
        await pilot.press("a")
        exact = await wait_screen(pilot, ExactMatch)
        others = exact.query_one("#others", Button)
        assert str(others.label) == "Other appointments (1)" and not others.disabled
        ExportData(
            providers=[provider("DOC1")],
            patients=[patient("PAT-jane", "Jane", "Exact", "1980-01-02")],
            appointments=[
                appointment("A-EXACT", "PAT-jane", "2026-12-03T09:30"),
                appointment("A-JANE-2", "PAT-jane", "2026-12-09T09:00", status="cancelled"),
            ],
        ).write(export, age=60)
        app.sync_now()
        await wait_until(pilot, lambda: others.disabled, "the other appointments to go")
        assert str(others.label) == "Other appointments (0)"
        assert not exact.query_one("#link", Button).disabled
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
