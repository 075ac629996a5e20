"""Rows a sync refused are on the status line (not only on the sync-runs screen), until an
export without them is read."""

from __future__ import annotations

from pathlib import Path

from linker_tui.tui.app import LinkerApp
from linker_tui.tui.screens.sync_runs import SyncRunsScreen
from tests.sync_support import appointment
from tests.tui.drive import SMALL, main_screen, settle, wait_screen, wait_until
from tests.tui.test_sync import dan_export, runs, status_text, synced_world


async def test_refused_rows_stay_on_the_status_line_until_the_export_is_fixed(
    tmp_path: Path,
) -> None:
    world, export = synced_world(tmp_path)
    data = dan_export()
    data.appointments.append(appointment("A-BAD1", "PAT-dan", "2026-12-20T10:30", status="[b]x"))
    data.appointments.append(appointment("A-BAD2", "PAT-dan", "2026-12-20T11:30", status="zzz"))
    data.write(export, age=60)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: "synced" in status_text(app), "the first sync")
        first = status_text(app)
        assert first.startswith("! 2 rows refused — Y to see · synced just now · +1")
        assert main_screen(app).bottom_bar.sync_problem

        # The export is unchanged: the next run reads nothing, the rows are still refused.
        await pilot.press("y")
        await wait_until(pilot, lambda: len(runs(world)) == 2, "the second sync")
        await settle(pilot)
        assert runs(world)[-1].rows_seen == 0
        assert status_text(app) == "! 2 rows refused — Y to see · synced just now · no changes"

        await pilot.press("Y")
        screen = await wait_screen(pilot, SyncRunsScreen)
        assert isinstance(screen, SyncRunsScreen)
        await pilot.press("escape")
        await settle(pilot)

        # The PMS fixes its export: the line is quiet again.
        dan_export().write(export, age=30)
        await pilot.press("y")
        await wait_until(pilot, lambda: len(runs(world)) == 3, "the third sync")
        await settle(pilot)
        assert status_text(app).startswith("synced just now")
        assert "refused" not in status_text(app)
        assert not main_screen(app).bottom_bar.sync_problem
