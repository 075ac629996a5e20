"""The mail outbox screen, the status line and the background relay, with real keys; every
test checks the database afterwards."""

from __future__ import annotations

import logging

import pytest

from linker_tui.mail.report import RelayReport
from linker_tui.store.enums import OutboxStatus
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.confirm import Confirm
from linker_tui.tui.modals.link import ConfirmLink, EmailPrompt, ExactMatch
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.screens.outbox import OutboxScreen, OutboxTable
from tests.tui.drive import (
    SMALL,
    main_screen,
    notifications,
    plain,
    select,
    settle,
    wait_screen,
    wait_until,
)
from tests.tui.world import RefusingMailer, World, fail_outbox


def _mail_status(app: LinkerApp) -> str:
    return main_screen(app).bottom_bar.mail_text


def _outbox(app: LinkerApp) -> OutboxTable:
    screen = app.screen
    assert isinstance(screen, OutboxScreen)
    return screen.query_one(OutboxTable)


async def test_failed_email_retry_then_cancel(world: World) -> None:
    fail_outbox(world)  # the linked request's email fails for good
    (email,) = world.outbox("linked")
    assert email.status == OutboxStatus.FAILED.value
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert _mail_status(app) == "! 1 email failed — m to see"
        commands = [spec.command for spec in main_screen(app).palette_actions()]
        assert "Mail outbox" in commands and "Change the request's patient" in commands
        await pilot.press("m")
        await wait_screen(pilot, OutboxScreen)
        await settle(pilot)
        entry = _outbox(app).current()
        assert entry is not None and entry.status is OutboxStatus.FAILED
        detail = plain(app.screen.query_one("#outbox-detail"))
        assert "Last error: 550 5.1.1 <recipient>: no such user [/] [31m" in detail
        assert "\x1b" not in detail
        # a failed email can be retried and cancelled
        screen = app.screen
        assert isinstance(screen, OutboxScreen)
        commands = [spec.command for spec in screen.palette_actions()]
        assert commands[:2] == ["Retry email", "Cancel email"]
        assert screen.check_action("retry", ()) is True
        assert screen.check_action("cancel_email", ()) is True
        await pilot.press("r")
        await settle(pilot)
        assert any("queued again" in m for m in notifications(app))
        entry = _outbox(app).current()
        assert entry is not None and entry.status is OutboxStatus.QUEUED
        assert screen.check_action("retry", ()) is None  # queued: nothing to retry
        assert _mail_status(app) == "1 email waiting to be sent · m mail"
        # cancel asks first; Esc changes nothing
        await pilot.press("c")
        await wait_screen(pilot, Confirm)
        await pilot.press("escape")
        await wait_screen(pilot, OutboxScreen)
        await settle(pilot)
        assert world.outbox("linked")[0].status == OutboxStatus.QUEUED.value
        await pilot.press("c")
        await wait_screen(pilot, Confirm)
        await pilot.press("enter")
        await wait_screen(pilot, OutboxScreen)
        await settle(pilot)
        entry = _outbox(app).current()
        assert entry is not None and entry.status is OutboxStatus.CANCELLED
        assert screen.check_action("retry", ()) is None
        assert screen.check_action("cancel_email", ()) is None
        await pilot.press("r", "c")  # neither applies: nothing happens
        await settle(pilot)
        await pilot.press("escape")
        await wait_screen(pilot, MainScreen)
        await settle(pilot)
        assert _mail_status(app) == ""

    (email,) = world.outbox("linked")
    assert email.status == OutboxStatus.CANCELLED.value
    assert email.attempts == 0
    assert "cancelled by tester@desk-1" in email.last_error
    assert [e.action for e in world.audit("linked")] == ["link", "email_retry", "email_cancel"]


async def test_action_refused_by_the_core_is_an_error_notification(world: World) -> None:
    fail_outbox(world)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await wait_screen(pilot, OutboxScreen)
        await settle(pilot)
        # another desk retries it while the list is on screen
        (email,) = world.outbox("linked")
        assert email.id is not None
        world.services.retry_email(email.id)
        await pilot.press("r")
        await settle(pilot)
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors == ["This email is queued: it cannot be sent again."]
        entry = _outbox(app).current()
        assert entry is not None and entry.status is OutboxStatus.QUEUED  # reloaded
        assert app.is_running
    assert [e.action for e in world.audit("linked")] == ["link", "email_retry"]


async def test_background_job_failure_shows_in_the_status_line(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay job runs in the scheduler's thread with a server that refuses everything:
    both emails fail for good, the status line counts them, nothing reaches stderr."""
    services = world.services

    def refused() -> RelayReport:
        logging.getLogger("linker_tui.mail.relay").warning("this must not be printed")
        return services.relay(RefusingMailer()).run_once()

    monkeypatch.setattr(services, "deliver_outbox", refused)
    app = LinkerApp(services)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        # the job ran once at start: the linked request's queued email failed
        await wait_until(pilot, lambda: "1 email failed" in _mail_status(app), "the first run")
        await select(pilot, "exact")
        await pilot.press("a")
        await wait_screen(pilot, ExactMatch)
        await pilot.press("enter")
        await wait_screen(pilot, ConfirmLink)
        await pilot.press("enter")
        await wait_screen(pilot, EmailPrompt)
        await pilot.press("enter")
        await wait_screen(pilot, MainScreen)
        await wait_until(
            pilot, lambda: _mail_status(app) == "! 2 emails failed — m to see", "the second run"
        )
        await settle(pilot)
        messages = notifications(app)
        assert any("Confirmation email queued for jane.exact@example.com" in m for m in messages)
        assert any(
            m.startswith("The email to jane.exact@example.com failed: 550 5.1.1") for m in messages
        )
        assert any("this must not be printed" in r.getMessage() for r in app.logs.records)
    assert world.outbox("exact")[0].status == OutboxStatus.FAILED.value
    assert world.outbox("linked")[0].status == OutboxStatus.FAILED.value
    assert not logging.getLogger("linker_tui").handlers  # put back as it was
