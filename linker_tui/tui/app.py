"""The Textual app: ``LinkerApp(services).run()``."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Awaitable, Callable, Iterable
from pathlib import PurePath
from typing import Any, ClassVar

from textual import work
from textual.app import SystemCommand
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen

from linker_tui.common.terminal import console_glyphs
from linker_tui.mail.report import Outcome
from linker_tui.services import Services, not_sent_note
from linker_tui.sync.control import StopFlag
from linker_tui.tui.db_watch import outage_of
from linker_tui.tui.formatting import clock_time
from linker_tui.tui.jobs import (
    BackgroundJobs,
    JobFailed,
    LogKeeper,
    MailChanged,
    MailQueued,
    OutboxDelivered,
    SyncFinished,
)
from linker_tui.tui.keys import APP_KEYS, SIGN_IN, OffersCommands, bindings
from linker_tui.tui.messages import (
    DatabaseAway,
    FirstPageShown,
    OutboxChanged,
    PmsSynced,
    StaffSignedIn,
    SyncRequested,
    SyncStarted,
)
from linker_tui.tui.safe import SafeApp
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.terminal import CONSOLE, MONO

SYNC_GROUP = "sync-now"


class LinkerApp(SafeApp[None]):
    """Link online appointment requests to appointments that exist in the PMS.

    ``background_jobs=False`` runs no scheduler (tests that need a fixed world): queued
    emails then stay queued until ``linker-tui outbox send`` or another desk sends them,
    and the PMS is synced only when staff ask. ``live_seconds``: how often the list looks
    for changes made elsewhere (default: the ``live_refresh_seconds`` setting with
    background jobs, never without).
    """

    TITLE = "linker-tui"
    CSS_PATH: ClassVar[list[str | PurePath]] = ["app.tcss", "screens.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(APP_KEYS))
    # Textual types these as instance variables: a ClassVar here fails mypy (RUF012 off)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]  # noqa: RUF012
    """Below 80 columns the screens carry ``-narrow`` (shorter counts; app.tcss)."""
    VERTICAL_BREAKPOINTS = [(0, "-short"), (16, "-tall")]  # noqa: RUF012
    """Below 16 lines the screens carry ``-short`` (the list keeps its rows, the detail
    pane goes; app.tcss)."""

    def __init__(
        self,
        services: Services,
        *,
        background_jobs: bool = True,
        live_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        # Before the first frame is styled: monochrome terminals and the Linux console.
        self.set_class(self.no_color or bool(self.ansi_color), MONO, update=False)
        self.set_class(console_glyphs(services.settings.terminal_glyphs), CONSOLE, update=False)
        self.live_seconds = live_seconds if live_seconds else None
        if live_seconds is None and background_jobs:
            self.live_seconds = services.settings.live_refresh_seconds
        self._stopping = threading.Event()
        self.logs = LogKeeper()
        self._background_jobs = background_jobs
        self.jobs: BackgroundJobs | None = None
        """The scheduler's jobs, once started (after the first page of requests)."""
        self._awaited: dict[int, str] = {}
        """Emails queued by a link at this desk, by outbox id → address (to say when sent)."""

    def get_default_screen(self) -> Screen[None]:
        """The request list."""
        return MainScreen(self.services, live_seconds=self.live_seconds, stop=self.stop_flag)

    def on_mount(self) -> None:
        """Apply the practice's key remapping; keep log records off the terminal."""
        self.set_keymap(dict(self.services.settings.keys))
        self.logs.install()
        if self.services.sign_in_mode != "off":
            self.action_sign_in()

    def on_first_page_shown(self, message: FirstPageShown) -> None:
        """The requests staff wait for are in the list: once they are drawn, start the
        background jobs (their imports and first runs would hold the GIL from the frame)."""
        self.call_after_refresh(self._start_jobs)

    def _start_jobs(self) -> None:
        """The scheduler, the mail relay and the sync engine are imported now, not before."""
        if self._background_jobs and self.jobs is None and not self._stopping.is_set():
            self.jobs = BackgroundJobs(self.services, self.post_message)
            self.jobs.start()
        # Everything made so far (modules, services, the list) lives as long as the app:
        # keep it out of the garbage collector's full passes, which otherwise stall the
        # screen every few dialogs (Accept p90 228-292 ms with, 409-549 ms without;
        # docs/benchmarks.md).
        gc.freeze()

    @property
    def stop_flag(self) -> StopFlag:
        """Set when the app quits: a sync started here stops at its next check (rolling
        back), so quitting never waits for a whole sync."""
        return StopFlag(self._stopping)

    async def action_quit(self) -> None:
        """Quit: stop a sync under way first (it rolls back)."""
        self._stopping.set()
        if self.jobs is not None:
            self.jobs.shutdown()
        await super().action_quit()

    def on_unmount(self) -> None:
        """Stop scheduling (a send under way finishes in its thread); end the sync process
        waiting for the next run; logging as before."""
        self._stopping.set()
        if self.jobs is not None:
            self.jobs.shutdown()
        self.services.close_sync_worker()
        self.logs.uninstall()
        gc.unfreeze()

    def _tell_screens(self, change: Callable[[], Message]) -> None:
        """Every screen on the stack hears of the change (each gets its own message; those
        showing it read again)."""
        for screen in self.screen_stack:
            screen.post_message(change())

    # ------------------------------------------------------------------ mail
    def on_mail_queued(self, message: MailQueued) -> None:
        """A link queued an email: send it now, in the background."""
        self._awaited[message.outbox_id] = message.address
        self._tell_screens(OutboxChanged)
        if self.jobs is not None:
            self.jobs.send_mail_now()

    def on_mail_changed(self, message: MailChanged) -> None:
        """Staff retried or cancelled an email: status line, and send what is due."""
        self._tell_screens(OutboxChanged)
        if self.jobs is not None:
            self.jobs.send_mail_now()

    def on_outbox_delivered(self, message: OutboxDelivered) -> None:
        """A relay run finished: refresh the status line and an open outbox; say what became
        of the emails queued at this desk."""
        self._tell_screens(OutboxChanged)
        tz = self.services.settings.tz
        for result in message.report.results:
            address = self._awaited.pop(result.outbox_id, None)
            if address is None:
                continue
            if result.outcome is Outcome.SENT:
                written = not_sent_note(self.services.settings)
                what = f"to {address} {written}" if written else f"sent to {address}"
                self.notify(f"Confirmation email {what}.", markup=False, timeout=5)
            elif result.outcome is Outcome.RETRY:
                when = clock_time(result.next_attempt_at, tz) if result.next_attempt_at else "later"
                self.notify(
                    f"The email to {address} could not be sent yet ({result.reason}); "
                    f"next try at {when}.",
                    severity="warning",
                    markup=False,
                    timeout=10,
                )
            else:
                what = "failed" if result.outcome is Outcome.FAILED else "was not sent"
                self.notify(
                    f"The email to {address} {what}: {result.reason}",
                    title="Email not sent",
                    severity="error",
                    markup=False,
                    timeout=15,
                )

    # ------------------------------------------------------------------ sync
    def on_sync_requested(self, message: SyncRequested) -> None:
        """Staff asked for a sync (key or palette, on the list or the runs screen)."""
        self.sync_now()

    def sync_now(self) -> None:
        """Sync now, in a worker (the status line says so; the list follows)."""
        if any(not w.is_finished for w in self.workers if w.group == SYNC_GROUP):
            self.notify("A sync is already running.", timeout=4)
            return
        self._tell_screens(SyncStarted)
        self._sync_now()

    @work(group=SYNC_GROUP, exit_on_error=False)
    async def _sync_now(self) -> None:
        summary = await asyncio.to_thread(
            self.services.sync_in_background, trigger="manual", stop=self.stop_flag
        )
        self.post_message(SyncFinished(summary, manual=True))

    def on_sync_finished(self, message: SyncFinished) -> None:
        """A sync ended: status line, the list in place (if it changed), an open runs
        screen or dialog; after "sync now", say what it did."""
        if self._stopping.is_set():
            return
        self._tell_screens(PmsSynced)  # an open dialog shows the PMS's new state too
        summary = message.summary
        if message.manual:
            self.notify(
                summary.text(),
                title="Sync" if summary.ok else "Sync did not finish",
                severity="information" if summary.ok else "error",
                markup=False,
                timeout=8 if summary.ok else 15,
            )

    def on_job_failed(self, message: JobFailed) -> None:
        """A background job raised: say so (the job runs again at its next interval); the
        database being away is on the status line instead."""
        error = message.error
        if outage_of(error) is not None:
            self._tell_screens(DatabaseAway)
            return
        self.notify(
            f"Background job {message.name} failed: {type(error).__name__}: {error}",
            title="Background job",
            severity="error",
            markup=False,
            timeout=15,
        )

    # ------------------------------------------------------------------ staff
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``u`` (sign in) only where the practice uses staff sign-in."""
        if action == "sign_in":
            return self.services.sign_in_mode != "off"
        return True

    def action_sign_in(self) -> None:
        """Ask who is at the desk (at start, and on ``u``)."""
        from linker_tui.tui.screens.sign_in import SignInScreen

        if not isinstance(self.screen, SignInScreen):
            required = self.services.sign_in_mode == "required"
            self.push_screen(SignInScreen(self.services, required=required), self._signed_in)

    def _signed_in(self, staff: str | None) -> None:
        """Record actions under ``staff`` from now on (None: skipped, nothing changes)."""
        if staff is None:
            return
        self.services.sign_in(staff)
        self._tell_screens(lambda: StaffSignedIn(staff))
        login = self.services.actor.os_user
        self.notify(
            f"Signed in as {staff}: your decisions are recorded under your name "
            f"(and this computer's login, {login}).",
            markup=False,
            timeout=6,
        )

    # ------------------------------------------------------------------ keys
    def action_help(self) -> None:
        """Show every key."""
        from linker_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.services.settings.keys))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette offers every action that applies now, with its description."""
        if isinstance(screen, OffersCommands):
            for spec in screen.palette_actions():
                yield SystemCommand(spec.command, spec.help, _runner(screen, spec.action))
        if self.check_action(SIGN_IN.action, ()):
            yield SystemCommand(SIGN_IN.command, SIGN_IN.help, self.action_sign_in)
        yield SystemCommand("Help", "Show every key and what it does", self.action_help)
        yield from super().get_system_commands(screen)


def _runner(screen: Screen[Any], action: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await screen.run_action(action)

    return run
