"""How the app, its jobs and its screens talk: typed messages and one protocol, no screen
named by the app and no ``getattr`` back-calls."""

from __future__ import annotations

from textual.message import Message

from linker_tui.store.enums import SyncRunStatus
from linker_tui.sync.summary import SyncFailed, SyncSummary
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.jobs import BackgroundJobs, JobFailed, SyncFinished
from linker_tui.tui.keys import OffersCommands
from linker_tui.tui.screens.help import HelpScreen
from tests.tui.drive import SMALL, main_screen, settle, wait_screen
from tests.tui.world import World


def test_a_failed_scheduled_sync_goes_to_the_status_line_other_errors_to_a_toast(
    world: World,
) -> None:
    posted: list[Message] = []
    jobs = BackgroundJobs(world.services, posted.append)
    now = world.services.clock.now()
    summary = SyncSummary(None, SyncRunStatus.FAILED, "schedule", now, error="export missing")
    jobs._on_error("sync", SyncFailed(summary))
    jobs._on_error("outbox", RuntimeError("mailer misconfigured"))
    first, second = posted
    assert isinstance(first, SyncFinished) and first.summary is summary
    assert isinstance(second, JobFailed) and str(second.error) == "mailer misconfigured"
    assert world.services.failed_sync_summary(RuntimeError("x")) is None


async def test_the_palette_lists_the_actions_of_the_screen_that_offers_them(
    world: World,
) -> None:
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert isinstance(screen, OffersCommands)
        offered = {command.title for command in app.get_system_commands(screen)}
        assert {spec.command for spec in screen.palette_actions()} <= offered
        assert "Help" in offered
        await pilot.press("question_mark")
        help_screen = await wait_screen(pilot, HelpScreen)
        assert not isinstance(help_screen, OffersCommands)
        assert "Help" in {command.title for command in app.get_system_commands(help_screen)}


async def test_a_sync_finished_message_refreshes_the_status_line(world: World) -> None:
    """What "Try again" in Accept posts after its sync (no back-call into the app)."""
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        line = main_screen(app).bottom_bar.query_one("#sync-status")
        assert str(line.render()).startswith("not synced yet")
        summary = world.services.sync_now()
        app.post_message(SyncFinished(summary))
        await settle(pilot)
        assert str(line.render()) == "synced just now · no changes"
