"""The PMS sync in the app: sync now, the scheduled job, quitting mid-sync, the runs screen,
requests flagged by the sync, and the list following changes made at another desk."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.services import Services
from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import Appointment, OnlineRequest, SyncRun
from linker_tui.sync.connector import ChangeSet
from linker_tui.sync.control import StopFlag
from linker_tui.sync.csv_folder import CsvFolderConnector
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.screens.sync_runs import SyncRunsScreen
from tests.sync_support import ExportData, appointment, patient, provider
from tests.tui.drive import (
    SMALL,
    main_screen,
    plain,
    selected_id,
    settle,
    table,
    wait_screen,
    wait_until,
)
from tests.tui.world import NOW, World, build_world

CAN_LINK = "The PMS now has an appointment for this patient: Sun 2026-12-20 09:30 (A-DAN-NEW)."


def dan_export(*, status: str = "scheduled") -> ExportData:
    """Dan Nothing (PAT-dan) gets an appointment on 2026-12-20 (nobody else is then, so the
    export's window cancels nothing of the fixture)."""
    return ExportData(
        providers=[provider("DOC1")],
        patients=[patient("PAT-dan", "Dan", "Nothing", "1980-01-02")],
        appointments=[appointment("A-DAN-NEW", "PAT-dan", "2026-12-20T09:30", status=status)],
    )


def synced_world(tmp_path: Path, **settings: Any) -> tuple[World, Path]:
    export = tmp_path / "export"
    export.mkdir()
    return build_world(tmp_path, pms_export_dir=export, **settings), export


def status_text(app: LinkerApp) -> str:
    return main_screen(app).bottom_bar.sync_text


def hint(app: LinkerApp, request_id: int) -> str:
    row = next(r for r in table(app).rows_shown if r.id == request_id)
    return row.match_hint


def appointment_count(world: World) -> int:
    with read_session(world.engine) as s:
        return int(s.exec(select(func.count()).select_from(Appointment)).one())


def runs(world: World) -> list[SyncRun]:
    with read_session(world.engine) as s:
        return list(s.exec(select(SyncRun).order_by(col(SyncRun.id))).all())


async def test_sync_now_shows_counts_and_refreshes_the_list_keeping_the_highlight(
    tmp_path: Path,
) -> None:
    world, export = synced_world(tmp_path)
    dan_export().write(export, age=60)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert status_text(app) == "not synced yet · y to sync"
        dan = world.requests["none"]
        for _ in range(3):
            await pilot.press("down")
        await settle(pilot)
        assert selected_id(app) == dan
        assert hint(app, dan) == "nothing scheduled"

        await pilot.press("y")
        await wait_until(pilot, lambda: hint(app, dan) == "1 scheduled", "the list to refresh")
        await settle(pilot)
        assert status_text(app).startswith("synced just now · +1")
        assert "appts" in status_text(app)
        assert selected_id(app) == dan
        assert any("sync #1 ok" in str(n.message) for n in app._notifications)
    assert runs(world)[-1].status == SyncRunStatus.OK.value
    assert runs(world)[-1].trigger == "manual"


async def test_scheduled_sync_refreshes_the_list_while_staff_work(tmp_path: Path) -> None:
    world, export = synced_world(tmp_path, sync_interval_minutes=0.2 / 60)
    app = LinkerApp(world.services, live_seconds=0.2)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: len(runs(world)) >= 1, "a first scheduled run")
        dan = world.requests["none"]
        for _ in range(3):
            await pilot.press("down")
        # The PMS export appears while the receptionist moves in the list.
        dan_export().write(export, age=60)
        await pilot.press("up", "down")
        await wait_until(pilot, lambda: hint(app, dan) == "1 scheduled", "the scheduled sync")
        assert selected_id(app) == dan
        await wait_until(pilot, lambda: "synced" in status_text(app), "the status line")
    assert {r.trigger for r in runs(world)} == {"schedule"}


async def test_quitting_mid_sync_exits_at_once_and_keeps_nothing(
    tmp_path: Path, monkeypatch: object
) -> None:
    """A connector that never finishes reading (a hung share): q still exits within a second,
    the run is rolled back (nothing of the export is stored)."""
    world, export = synced_world(tmp_path)
    dan_export().write(export, age=60)
    real_changes = CsvFolderConnector.changes
    started: list[float] = []

    def slow_changes(
        self: CsvFolderConnector, state: MutableMapping[str, bytes], stop: StopFlag
    ) -> ChangeSet:
        result = real_changes(self, state, stop)
        started.append(time.monotonic())
        while True:
            stop.check()
            time.sleep(0.01)
        return result  # pragma: no cover

    monkeypatch.setattr(CsvFolderConnector, "changes", slow_changes)  # type: ignore[attr-defined]
    before = appointment_count(world)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(started), "the sync to be reading")
        assert "syncing" in status_text(app)
        began = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - began < 1.0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and runs(world)[-1].status == "running":
        time.sleep(0.02)
    last = runs(world)[-1]
    assert last.status == SyncRunStatus.CANCELLED.value
    assert last.inserted == 0
    assert appointment_count(world) == before


async def test_runs_screen_shows_a_problem_row_literally(tmp_path: Path) -> None:
    world, export = synced_world(tmp_path)
    data = dan_export()
    data.appointments.append(appointment("A-BAD", "PAT-dan", "2026-12-20T10:30", status="[b]x[/b]"))
    data.write(export, age=60)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: "synced" in status_text(app), "the sync")
        await pilot.press("Y")
        screen = await wait_screen(pilot, SyncRunsScreen)
        assert isinstance(screen, SyncRunsScreen)
        await settle(pilot)
        assert screen.table.current() is not None
        text = screen.problems_text()
        assert "1 problem:" in text
        assert "appointments.csv:3: unknown status '[b]x[/b]'" in text
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, SyncRunsScreen)


async def test_attention_is_flagged_shown_and_dismissed(world: World) -> None:
    dan = world.requests["none"]
    with write_session(world.engine) as s:
        request = s.get(OnlineRequest, dan)
        assert request is not None
        request.attention = CAN_LINK
        request.attention_at = NOW
        request.version += 1
        s.add(request)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert hint(app, dan) == "! can link now"
        for _ in range(3):
            await pilot.press("down")
        await settle(pilot)
        detail = plain(main_screen(app).detail)
        assert f"! Sync: {CAN_LINK}" in detail
        await pilot.press("d")
        await wait_until(pilot, lambda: hint(app, dan) == "nothing scheduled", "the flag cleared")
    assert world.request("none").attention == ""
    assert world.audit("none")[-1].action == "attention_seen"


async def test_list_follows_a_rejection_at_another_desk(world: World) -> None:
    """Another workstation (another Actor, the same database) rejects a request: the running
    app's list drops it without a key press, the highlight stays where it was."""
    other = Services.open(
        world.services.settings,
        clock=FixedClock(NOW),
        actor=Actor("colleague", "desk-2"),
        engine=world.engine,
    )
    app = LinkerApp(world.services, background_jobs=False, live_seconds=0.1)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        kept = main_screen(app).selected
        assert kept is not None and kept.id == world.requests["partial"]
        unknown = world.requests["unknown"]
        assert unknown in {r.id for r in table(app).rows_shown}
        request = world.request("unknown")
        other.workflow.reject(unknown, "duplicate request", expected_version=request.version)
        await wait_until(
            pilot,
            lambda: unknown not in {r.id for r in table(app).rows_shown},
            "the list to follow",
        )
        selected = main_screen(app).selected
        assert selected is not None and selected.id == kept.id
