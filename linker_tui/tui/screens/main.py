"""The request list: header with counts, filter, a page of requests, the detail pane.

Ordinary widgets, top to bottom: :class:`TopBar` (header and filter line),
:class:`RequestList` (a page of requests), :class:`DetailPane`, :class:`BottomBar`
(status line and keys). The page is read after the first frame, which says the list is
loading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from linker_tui.read.queries import (
    PAGE_SIZE,
    ChangeStamp,
    ListQuery,
    RequestPage,
    change_stamp,
    request_count,
    request_detail,
    request_page,
    state_counts,
)
from linker_tui.read.views import RequestRow
from linker_tui.services import Services
from linker_tui.store.enums import OutboxStatus, RequestState
from linker_tui.sync.control import StopFlag
from linker_tui.sync.queries import SyncStatus
from linker_tui.tui.db_watch import CHECK_SECONDS, DatabaseWatch, failed_decision, outage_of
from linker_tui.tui.formatting import RANGE_DASH, count
from linker_tui.tui.jobs import MailQueued
from linker_tui.tui.keys import (
    MAIN_KEYS,
    NEXT_PAGE,
    OPEN_REQUEST,
    OUTBOX,
    PREVIOUS_PAGE,
    SYNC,
    SYNC_RUNS,
    KeySpec,
    bindings,
)
from linker_tui.tui.latest import LatestOnly
from linker_tui.tui.messages import (
    FirstPageShown,
    OutboxChanged,
    PmsSynced,
    RequestsChanged,
    SyncRequested,
)
from linker_tui.tui.widgets.bottom_bar import BottomBar
from linker_tui.tui.widgets.detail import DetailPane
from linker_tui.tui.widgets.request_list import RequestList
from linker_tui.tui.widgets.status import sync_status_text
from linker_tui.tui.widgets.top_bar import FilterInput, TopBar

if TYPE_CHECKING:
    from linker_tui.tui.flows import Flows

DECISION_GROUP = "decision"
POLL_GROUP = "poll"


@dataclass(frozen=True)
class _Loaded:
    page: RequestPage
    counts: dict[RequestState, int] | None  # None: not read (a filter key)
    mail: dict[OutboxStatus, int] | None


class MainScreen(Screen[None]):
    """Where staff work through the requests."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(MAIN_KEYS))
    """The decisions and screens (``keys.MAIN_KEYS``); the list has its cursor keys."""
    AUTO_FOCUS = "#requests"

    def __init__(
        self,
        services: Services,
        *,
        live_seconds: float | None = None,
        stop: StopFlag | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.tz = services.settings.tz
        self.live_seconds = live_seconds
        """How often the screen looks whether anything changed (None: never by itself)."""
        self.stop = stop
        """Set when the app quits (a sync started by a dialog stops at its next check)."""
        self._stamp: ChangeStamp | None = None
        self._sync_status: SyncStatus | None = None
        self._flows: Flows | None = None
        self.database = DatabaseWatch(services.engine, self.tz)
        """The database's state: away (since when), slow (the status line says so)."""
        self.list_query = ListQuery()
        self.page_offset = 0
        self.page_total: int | None = 0
        """How many requests the list holds (None: being counted, after a filter key)."""
        self._detail_wanted: int | None = None
        self._detail_busy = False
        self._bindings_state: tuple[object, ...] | None = None
        self._first_page_shown = False
        self._reads: LatestOnly[_Loaded] = LatestOnly()
        """The page reads: one at a time, only the newest drawn."""
        self._counts: LatestOnly[int] = LatestOnly()
        """The filter's counts, read after its page (on their own: a page never waits)."""

    def compose(self) -> ComposeResult:
        """Header and filter line, the list, the detail pane, status line and keys."""
        yield TopBar(self.services.settings.practice_name, id="top")
        yield RequestList(self.tz, id="requests")
        yield DetailPane(self.tz, id="detail", more=f"{self._keys(OPEN_REQUEST)}: read all")
        yield BottomBar(id="bottom")

    @property
    def top_bar(self) -> TopBar:
        """The header and the filter line."""
        return self.query_one(TopBar)

    @property
    def table(self) -> RequestList:
        """The request list."""
        return self.query_one(RequestList)

    @property
    def detail(self) -> DetailPane:
        """The detail pane."""
        return self.query_one(DetailPane)

    @property
    def bottom_bar(self) -> BottomBar:
        """The status line and the keys."""
        return self.query_one(BottomBar)

    # ------------------------------------------------------------------ start
    def on_mount(self) -> None:
        """Once the screen is drawn (the list says it is loading): load the first page and
        the sync status, and look for changes every few seconds."""
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        if not self.is_attached:
            return
        self.reload()
        self.poll()
        self.set_interval(CHECK_SECONDS, self._watch_database)
        if self.live_seconds:
            self.set_interval(self.live_seconds, self._tick)

    @property
    def flows(self) -> Flows:
        """The decision flows (made, and the dialogs imported, on the first decision)."""
        if self._flows is None:
            from linker_tui.tui.flows import Flows

            self._flows = Flows(self.app, self.services, self._mail_queued, stop=self.stop)
        return self._flows

    @property
    def selected(self) -> RequestRow | None:
        """The request under the cursor, read from the list itself (not from the last
        highlight message, which may still be queued behind a fast key press)."""
        return self.table.current_row()

    # ------------------------------------------------------------------ loading
    def reload(
        self, *, keep_id: int | None = None, keep_index: int | None = None, counts: bool = True
    ) -> None:
        """Load the current page again (off the UI thread; with the counts unless
        ``counts`` is false). When it arrives the cursor is on ``keep_id`` if it is listed,
        else on the request it is on by then (staff may have moved meanwhile), else at
        ``keep_index`` or the same position. Only the newest page asked for is drawn."""
        self._load(self.list_query, self.page_offset, keep_id, keep_index, counts)

    @work(exclusive=True, group="list", exit_on_error=False)
    async def _load(
        self,
        query: ListQuery,
        offset: int,
        keep_id: int | None,
        keep_index: int | None,
        counts: bool,
    ) -> None:
        loaded = await self._reads.run(partial(self._fetch, query, offset, counts))
        if loaded is None:  # a newer page was asked for meanwhile
            return
        if keep_id is None and self.selected is not None:
            keep_id = self.selected.id
        if keep_index is None:
            keep_index = max(self.table.cursor_row, 0)
        self.page_offset, self.page_total = loaded.page.offset, loaded.page.total
        if loaded.counts is not None and loaded.mail is not None:
            self.top_bar.show_counts(loaded.counts)
            self.show_mail(loaded.mail)
        self.table.show_rows(
            loaded.page.rows,
            show_state=query.show_handled,
            keep_id=keep_id,
            keep_index=keep_index,
        )
        self._show_page_status()
        self._set_current(self.table.current_row())
        if not self._first_page_shown:
            self._first_page_shown = True
            self.post_message(FirstPageShown())
        if loaded.page.total is None:
            total = await self._counts.run(partial(request_count, self.services.engine, query))
            if total is not None and query == self.list_query:
                self.page_total = total
                self._show_page_status()
                self._update_bindings()

    def _fetch(self, query: ListQuery, offset: int, counts: bool) -> _Loaded:
        services = self.services
        now = services.clock.now()
        region = services.settings.phone_region
        page = request_page(services.engine, query, offset, self.tz, now, region, counted=counts)
        if not counts:
            return _Loaded(page=page, counts=None, mail=None)
        return _Loaded(
            page=page, counts=state_counts(services.engine), mail=services.outbox_counts()
        )

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
        return self.services.sync_status(), change_stamp(self.services.engine)

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

    def show_syncing(self) -> None:
        """Say a sync started at this desk (until it ends)."""
        self.bottom_bar.show_sync("syncing…")

    # ------------------------------------------------------------------ status line
    def show_mail(self, counts: dict[OutboxStatus, int]) -> None:
        """The outbox part of the status line ("2 emails failed — m to see")."""
        self.bottom_bar.show_mail(counts, self._keys(OUTBOX), self.services.mail_notice)

    @work(exclusive=True, group="mail-status", exit_on_error=False)
    async def refresh_mail(self) -> None:
        """Read the outbox counts again (after a relay run, a retry or a cancel)."""
        self.show_mail(await asyncio.to_thread(self.services.outbox_counts))

    def on_outbox_changed(self, message: OutboxChanged) -> None:
        """The outbox changed: the status line's mail part."""
        self.refresh_mail()

    def _mail_queued(self, outbox_id: int, address: str) -> None:
        self.app.post_message(MailQueued(outbox_id, address))

    def _show_page_status(self) -> None:
        rows = len(self.table.rows_shown)
        handled = self.list_query.show_handled
        if not rows:
            status = "no requests" if handled else "no open requests"
        else:
            first, last = count(self.page_offset + 1), count(self.page_offset + rows)
            total = "…" if self.page_total is None else count(self.page_total)
            status = f"rows {first}{RANGE_DASH}{last} of {total}"
            status += " · all" if handled else " · open"
            if self.page_offset > 0 or self._more():
                status += f" · {self._keys(PREVIOUS_PAGE)} {self._keys(NEXT_PAGE)} page"
        self.top_bar.show_status(status)

    def _more(self) -> bool:
        """Whether a next page exists (while counting: whether this page is full)."""
        if self.page_total is None:
            return len(self.table.rows_shown) == PAGE_SIZE
        return self.page_offset + PAGE_SIZE < self.page_total

    def _keys(self, spec: KeySpec) -> str:
        keys = spec.current_keys(self.services.settings.keys)
        return self.app.get_key_display(Binding(keys[0], spec.action)) if keys else "?"

    # ------------------------------------------------------------------ cursor
    @on(RequestList.Highlighted, "#requests")
    def _highlighted(self) -> None:
        self._set_current(self.table.current_row())

    def _set_current(self, row: RequestRow | None) -> None:
        self._update_bindings()
        detail = self.detail
        if row is None:
            self._detail_wanted = None
            detail.show_message("No requests to show." if not self.table.rows_shown else "")
            return
        self._detail_wanted = row.id
        if not self._detail_busy:
            self._detail_busy = True
            self._load_detail()

    @work(group="detail", exit_on_error=False)
    async def _load_detail(self) -> None:
        """Load the detail of the highlighted request; if the cursor moved meanwhile, load
        the newest one (at most one query in flight)."""
        try:
            while (wanted := self._detail_wanted) is not None:
                services = self.services
                try:
                    detail = await asyncio.to_thread(
                        request_detail,
                        services.engine,
                        wanted,
                        self.tz,
                        services.clock.now(),
                        services.settings.phone_region,
                    )
                except LookupError:
                    detail = None
                if wanted != self._detail_wanted:
                    continue
                pane = self.detail
                if detail is None:
                    pane.show_message("This request no longer exists.")
                else:
                    pane.show_detail(detail)
                return
        finally:
            self._detail_busy = False

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only what applies to the highlighted request (and nothing while a
        decision is under way)."""
        row = self.selected
        if action in ("accept", "reject", "reopen", "patient"):
            if row is None:
                return False
            wanted_open = action != "reopen"
            if row.state.open != wanted_open:
                return False
            return None if self._deciding() else True
        if action == "open_request":
            return row is not None
        if action == "dismiss_attention":
            if row is None or not row.attention:
                return False
            return None if self._deciding() else True
        if action == "next_page":
            return True if self._more() else None
        if action == "previous_page":
            return True if self.page_offset > 0 else None
        return True

    def _update_bindings(self) -> None:
        """Refresh the key bar, but only when what applies has changed."""
        row = self.selected
        state = (
            None if row is None else row.state.open,
            row is not None and bool(row.attention),
            self._deciding(),
            self.page_offset > 0,
            self._more(),
        )
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    def _deciding(self) -> bool:
        return any(not w.is_finished for w in self.workers if w.group == DECISION_GROUP)

    def action_accept(self) -> None:
        """Accept the highlighted request."""
        if self.selected is not None:
            self._decide(self.flows.accept, self.selected)

    def action_reject(self) -> None:
        """Reject the highlighted request."""
        if self.selected is not None:
            self._decide(self.flows.reject, self.selected)

    def action_reopen(self) -> None:
        """Reopen the highlighted request."""
        if self.selected is not None:
            self._decide(self.flows.reopen, self.selected)

    def action_patient(self) -> None:
        """Choose or change the patient of the highlighted open request."""
        if self.selected is not None:
            self._decide(self.flows.change_patient, self.selected)

    def action_dismiss_attention(self) -> None:
        """The sync's warning on the highlighted request has been seen: clear it."""
        if self.selected is not None and self.selected.attention:
            self._decide(self.flows.dismiss_attention, self.selected)

    def action_open_request(self) -> None:
        """Read the whole highlighted request (a decision key there starts it here)."""
        from linker_tui.tui.screens.request import open_request

        open_request(self)

    def action_outbox(self) -> None:
        """Open the mail outbox."""
        from linker_tui.tui.screens.outbox import OutboxScreen

        self.app.push_screen(OutboxScreen(self.services))

    def action_sync(self) -> None:
        """Sync now (in the background; the list follows when it is done)."""
        self.post_message(SyncRequested())

    def action_sync_runs(self) -> None:
        """Show the recent sync runs and their problems."""
        from linker_tui.tui.screens.sync_runs import SyncRunsScreen

        self.app.push_screen(SyncRunsScreen(self.services))

    def _decide(self, flow: Callable[[RequestRow], Awaitable[bool]], row: RequestRow) -> None:
        if self._deciding():
            return
        refused = self.database.refusal()
        if refused is not None:
            self.notify(refused, title="Not done", severity="error", markup=False, timeout=10)
            return
        self._run_decision(flow, row)
        self._update_bindings()

    @work(group=DECISION_GROUP, exit_on_error=False)
    async def _run_decision(
        self, flow: Callable[[RequestRow], Awaitable[bool]], row: RequestRow
    ) -> None:
        if await flow(row):
            self.reload(keep_id=row.id)

    def action_toggle_handled(self) -> None:
        """Show or hide linked and rejected requests."""
        self.list_query = replace(self.list_query, show_handled=not self.list_query.show_handled)
        self.page_offset = 0
        self.reload(keep_index=0)

    def action_filter(self) -> None:
        """Put the keys in the filter field."""
        self.query_one(FilterInput).focus()

    def action_refresh(self) -> None:
        """Reload the list and the counts."""
        self.reload()

    def action_next_page(self) -> None:
        """The next page of the list."""
        if self._more():
            self.page_offset += PAGE_SIZE
            self.reload(keep_id=None, keep_index=0)

    def action_previous_page(self) -> None:
        """The previous page of the list."""
        if self.page_offset > 0:
            self.page_offset = max(0, self.page_offset - PAGE_SIZE)
            self.reload(keep_id=None, keep_index=0)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.value == self.list_query.text:
            return
        self.list_query = replace(self.list_query, text=event.value)
        self.page_offset = 0
        self.reload(keep_index=0, counts=False)  # the counts do not depend on the filter

    @on(Input.Submitted, "#filter")
    @on(FilterInput.Left)
    def _filter_left(self) -> None:
        self.table.focus()

    def palette_actions(self) -> Iterator[KeySpec]:
        """The actions the command palette offers now."""
        for spec in MAIN_KEYS:
            if self.check_action(spec.action, ()):
                yield spec

    # ------------------------------------------------------------------ errors
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where a failed worker becomes a visible message.

        A ``WorkflowError`` (the request changed meanwhile, the appointment is gone, ...)
        is shown as it is — it is written for staff — and the list is reloaded.
        """
        if event.worker.group == DECISION_GROUP:
            self._update_bindings()
        if event.state is not WorkerState.ERROR:
            return
        from linker_tui.workflow.errors import WorkflowError

        error = event.worker.error
        away = outage_of(error)
        if away is not None:  # the status line says it (one state, not a pop-up per read)
            self.show_sync()
            if event.worker.group == DECISION_GROUP:
                self.notify(failed_decision(away), title="Not done", severity="error", markup=False)
            return
        if isinstance(error, WorkflowError):
            self.notify(str(error), title="Not done", severity="error", markup=False, timeout=15)
        else:
            self.notify(
                f"Something went wrong: {type(error).__name__}: {error}",
                title="Error",
                severity="error",
                markup=False,
                timeout=15,
            )
        if event.worker.group == DECISION_GROUP:
            self.reload()
