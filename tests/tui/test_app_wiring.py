"""How the app, its jobs and its screens talk: typed messages and one protocol, no screen
named by the app and no ``getattr`` back-calls."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from textual.message import Message

from linker_tui.common.outage import DatabaseUnavailable
from linker_tui.store.enums import SyncRunStatus
from linker_tui.sync.summary import SyncFailed, SyncSummary
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.jobs import BackgroundJobs, JobFailed, SyncFinished
from linker_tui.tui.keys import OffersCommands
from linker_tui.tui.screens.help import HelpScreen
from tests.tui.drive import SMALL, main_screen, notifications, settle, wait_screen, wait_until
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


async def test_the_list_hears_of_a_sync_a_sign_in_and_an_outage_under_a_dialog(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app tells the screens by messages (no direct calls into the list): the list at
    the bottom of the stack follows while help is open on top of it."""
    release = threading.Event()
    sync = world.services.sync_in_background

    def held_sync(**kwargs: Any) -> SyncSummary:
        release.wait(10)
        return sync(**kwargs)

    monkeypatch.setattr(world.services, "sync_in_background", held_sync)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        line = screen.bottom_bar.query_one("#sync-status")
        await pilot.press("question_mark")
        await wait_screen(pilot, HelpScreen)

        app.sync_now()
        await wait_until(pilot, lambda: str(line.render()) == "syncing…", "syncing", 5)
        release.set()
        await wait_until(pilot, lambda: str(line.render()).startswith("synced"), "synced", 10)

        app._signed_in("Bob Singh")
        await settle(pilot)
        assert str(screen.top_bar.query_one("#practice").render()).startswith("Bob Singh · ")

        app.clear_notifications()
        error = sa.exc.OperationalError("SELECT 1", {}, Exception("server closed"))
        away = DatabaseUnavailable(error, "db.example", "connection refused", "is it up?")
        app.post_message(JobFailed("outbox", RuntimeError("job failed")))
        await settle(pilot)
        assert notifications(app) == ["Background job outbox failed: RuntimeError: job failed"]
        app.clear_notifications()
        shown: list[None] = []
        monkeypatch.setattr(screen, "show_sync", lambda status=None: shown.append(None))
        failure = RuntimeError("sync failed")
        failure.__cause__ = away
        app.post_message(JobFailed("sync", failure))
        await settle(pilot)
        assert notifications(app) == []  # the status line says it, not a toast
        assert shown == [None]
