"""The app's syncs in a child process (the default outside these tests): the list follows
a scheduled sync, and quitting while the child hangs on the export exits at once."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select

from linker_tui.store.db import read_session
from linker_tui.store.enums import SyncRunStatus
from linker_tui.store.models import Appointment, SyncRun
from linker_tui.tui.app import LinkerApp
from tests.sync_support import ExportData, appointment, patient, provider
from tests.tui.drive import SMALL, main_screen, settle, table, wait_until
from tests.tui.world import World, build_world


def _world(tmp_path: Path, **settings: Any) -> tuple[World, Path]:
    export = tmp_path / "export"
    export.mkdir()
    world = build_world(tmp_path, pms_export_dir=export, sync_in_subprocess=True, **settings)
    return world, export


def _dan_export() -> ExportData:
    return ExportData(
        providers=[provider("DOC1")],
        patients=[patient("PAT-dan", "Dan", "Nothing", "1980-01-02")],
        appointments=[appointment("A-DAN-NEW", "PAT-dan", "2026-12-20T09:30")],
    )


def _runs(world: World) -> list[SyncRun]:
    with read_session(world.engine) as s:
        return list(s.exec(select(SyncRun).order_by(col(SyncRun.id))).all())


def _appointments(world: World) -> int:
    with read_session(world.engine) as s:
        return int(s.exec(select(func.count()).select_from(Appointment)).one())


def _hint(app: LinkerApp, request_id: int) -> str:
    return next(r for r in table(app).rows_shown if r.id == request_id).match_hint


async def test_a_scheduled_sync_in_a_child_process_refreshes_the_list(tmp_path: Path) -> None:
    world, export = _world(tmp_path, sync_interval_minutes=0.3 / 60)
    app = LinkerApp(world.services, live_seconds=0.2)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        dan = world.requests["none"]
        for _ in range(3):
            await pilot.press("down")
        await settle(pilot)
        assert _hint(app, dan) == "nothing scheduled"
        _dan_export().write(export, age=60)
        await wait_until(
            pilot, lambda: _hint(app, dan) == "1 scheduled", "a scheduled sync in a child", 30
        )
        selected = main_screen(app).selected
        assert selected is not None and selected.id == dan
    assert {r.trigger for r in _runs(world)} == {"schedule"}
    assert any(r.inserted for r in _runs(world))


async def test_quitting_while_the_child_hangs_on_the_export_exits_at_once(tmp_path: Path) -> None:
    """appointments.csv is a FIFO nobody writes to: the child blocks reading it."""
    world, export = _world(tmp_path)
    _dan_export().write(export, age=60)
    (export / "appointments.csv").unlink()
    os.mkfifo(export / "appointments.csv")
    before = _appointments(world)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(_runs(world)), "the child to start its run", 20)
        began = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - began < 1.0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _runs(world)[-1].status == "running":
        time.sleep(0.02)
    assert _runs(world)[-1].status == SyncRunStatus.CANCELLED.value
    assert _appointments(world) == before
