"""The main screen following the sync and other desks: the status line's sync and mail
parts, and the list read again when anything changed (:class:`LiveScreen`)."""

from __future__ import annotations

import asyncio

from textual import work

from linker_tui.read.queries import ChangeStamp
from linker_tui.sync.queries import SyncStatus
from linker_tui.tui.db_watch import CHECK_SECONDS
from linker_tui.tui.keys import SYNC, SYNC_RUNS
from linker_tui.tui.messages import (
    DatabaseAway,
    FirstPageShown,
    OutboxChanged,
    PmsSynced,
    RequestsChanged,
    StaffSignedIn,
    SyncStarted,
)
from linker_tui.tui.screens.main_list import ListScreen
from linker_tui.tui.widgets.status import sync_status_text

POLL_GROUP = "poll"


class LiveScreen(ListScreen):
    """Starts the list and follows changes: the sync's status, the outbox's counts, another
    desk's decisions (the list is read again in place)."""

    # ------------------------------------------------------------------ start
    def on_mount(self) -> None:
        """Once the screen is drawn (the list says it is loading): load the first page, then
        the sync status, and look for changes every few seconds."""
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        if not self.is_attached:
            return
        self.reload()  # the sync status is read once the first page is shown
        self.set_interval(CHECK_SECONDS, self._watch_database)
        if self.live_seconds:
            self.set_interval(self.live_seconds, self._tick)

    def on_first_page_shown(self, message: FirstPageShown) -> None:
        """The first page is in the list: read the sync status once it is drawn (read
        beside the page, it took the GIL and the database from what staff wait for; the
        ORM it reads with is first imported then). The app hears it too."""
        self.call_after_refresh(self.poll)

    # ------------------------------------------------------------------ live refresh
    def _tick(self) -> None:
        if not any(not w.is_finished for w in self.workers if w.group == POLL_GROUP):
            self.poll()

    @work(exclusive=True, group=POLL_GROUP, exit_on_error=False)
    async def poll(self) -> None:
        """Read the sync status and the change stamp (off the UI thread); reload the list
        in place, keeping the highlighted request, when another desk or the sync changed
        something."""
        status, stamp = await asyncio.to_thread(self._read_poll)
        self.show_sync(status)
        if self._stamp is not None and stamp != self._stamp:
            self.reload()
            for screen in self.app.screen_stack[1:]:  # open dialogs follow it too
                screen.post_message(RequestsChanged())
        self._stamp = stamp

    def on_pms_synced(self, message: PmsSynced) -> None:
        """A sync ended: the status line, and the list in place if anything changed."""
        self.poll()

    def _read_poll(self) -> tuple[SyncStatus, ChangeStamp]:
        return self.services.sync_status(), self.services.change_stamp()

    def show_sync(self, status: SyncStatus | None = None) -> None:
        """The sync part of the status line ("synced 40 s ago · +3 ~12 appts")."""
        if status is not None:
            self._sync_status = status
        if self.database.came_back():
            self.reload()  # what changed while it was away
        database = self.database.status()
        if database is not None:  # away or slow: that is what matters now
            self.bottom_bar.show_sync(database[0], problem=database[1])
            return
        stale = self.services.settings.sync_stale_after
        text, problem = sync_status_text(
            self._sync_status,
            self.services.clock.now(),
            self.tz,
            stale_after=stale,
            runs_key=self._keys(SYNC_RUNS),
            sync_key=self._keys(SYNC),
        )
        self.bottom_bar.show_sync(text, problem=problem)

    def _watch_database(self) -> None:
        """The database went away, became slow or is back: say so at once."""
        if self.database.changed():
            self.show_sync()

    def on_sync_started(self, message: SyncStarted) -> None:
        """Say a sync started at this desk (until it ends)."""
        self.bottom_bar.show_sync("syncing…")

    def on_database_away(self, message: DatabaseAway) -> None:
        """A background job found the database away: the status line says so."""
        self.show_sync()

    def on_staff_signed_in(self, message: StaffSignedIn) -> None:
        """The header names who is at the desk."""
        self.top_bar.show_who(message.staff)

    @work(exclusive=True, group="mail-status", exit_on_error=False)
    async def refresh_mail(self) -> None:
        """Read the outbox counts again (after a relay run, a retry or a cancel)."""
        self.show_mail(await asyncio.to_thread(self.services.outbox_counts))

    def on_outbox_changed(self, message: OutboxChanged) -> None:
        """The outbox changed: the status line's mail part."""
        self.refresh_mail()
