"""The main screen's list: the page of requests, its status and the highlighted request's
detail (:class:`ListScreen`; the live status is :mod:`.main_live`'s, the keys
:mod:`.main`'s).

Ordinary widgets, top to bottom: :class:`TopBar` (header and filter line),
:class:`RequestList` (a page of requests), :class:`DetailPane`, :class:`BottomBar`
(status line and keys). The page is read after the first frame, which says the list is
loading.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from linker_tui.read.queries import (
    PAGE_SIZE,
    ChangeStamp,
    ListQuery,
    RequestPage,
)
from linker_tui.read.views import RequestRow
from linker_tui.services import Services
from linker_tui.store.enums import OutboxStatus, RequestState
from linker_tui.sync.control import StopFlag
from linker_tui.sync.queries import SyncStatus
from linker_tui.tui.db_watch import DatabaseWatch
from linker_tui.tui.formatting import RANGE_DASH, count
from linker_tui.tui.jobs import MailQueued
from linker_tui.tui.keys import NEXT_PAGE, OPEN_REQUEST, OUTBOX, PREVIOUS_PAGE, KeySpec
from linker_tui.tui.latest import LatestOnly
from linker_tui.tui.messages import FirstPageShown
from linker_tui.tui.widgets.bottom_bar import BottomBar
from linker_tui.tui.widgets.detail import DetailPane
from linker_tui.tui.widgets.request_list import REPEAT_GAP, RequestList
from linker_tui.tui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from linker_tui.tui.flows import Flows

DECISION_GROUP = "decision"
STALE_AT_MOST = 0.5
"""While a key is held (``request_list.REPEAT_GAP``) the detail pane waits for the cursor
to rest, but shows the newest row at least this often (s)."""
FRAME_WAIT = 0.25
"""Seconds a page's reads after it wait at most for the frame that shows it."""


@dataclass(frozen=True)
class _Loaded:
    page: RequestPage
    counts: dict[RequestState, int] | None  # None: not read (a filter key)
    mail: dict[OutboxStatus, int] | None


class ListScreen(Screen[None]):
    """The list and its pages, the detail of the highlighted request, and which keys apply
    (the base of :class:`~linker_tui.tui.screens.main.MainScreen`)."""

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
        self._detail_at = 0.0
        """When the detail pane last showed a request."""
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
        self._update_bindings()
        if not self._first_page_shown:
            self._first_page_shown = True
            self.post_message(FirstPageShown())
        # The rows go out in the next frame with the typed text; the detail and count
        # reads start after it (their threads would share the GIL with the frame).
        self.top_bar.filter_field.frames.release()
        await self._frame_drawn()
        self._set_current(self.table.current_row())
        if loaded.page.total is None:
            total = await self._counts.run(partial(self.services.request_count, query))
            if total is not None and query == self.list_query:
                self.page_total = total
                self._show_page_status()
                self._update_bindings()

    async def _frame_drawn(self) -> None:
        """Return once the screen has drawn what changed so far; at once while a dialog is
        on top of the list, and after :data:`FRAME_WAIT` at the most.

        Textual runs the callback after the frame of the screen on top: under a dialog
        that is the dialog's, and a dialog closed before it drew one never runs it (the
        list's reads then waited for ever)."""
        if not self.is_active:
            return
        drawn: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def mark() -> None:
            if not drawn.done():
                drawn.set_result(None)

        if self.call_after_refresh(mark):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drawn, FRAME_WAIT)

    def _fetch(self, query: ListQuery, offset: int, counts: bool) -> _Loaded:
        services = self.services
        page = services.request_page(query, offset, counted=counts)
        if not counts:
            return _Loaded(page=page, counts=None, mail=None)
        return _Loaded(page=page, counts=services.state_counts(), mail=services.outbox_counts())

    # ------------------------------------------------------------------ status line
    def show_mail(self, counts: dict[OutboxStatus, int]) -> None:
        """The outbox part of the status line ("2 emails failed — m to see")."""
        self.bottom_bar.show_mail(counts, self._keys(OUTBOX), self.services.mail_notice)

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
        typing = self.top_bar.filter_field.has_focus
        self.top_bar.show_status(status, keep_width=typing or self.page_total is None)

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

    def _detail_wait(self) -> float:
        """How long the detail pane waits before it reads the highlighted request: not at
        all after a single step; while a held key moves the cursor, until the cursor rests
        (REPEAT_GAP), but no longer than STALE_AT_MOST after it last showed one."""
        rows = self.table
        if not rows.held:
            return 0.0
        now = time.monotonic()
        rest = rows.stepped_at + REPEAT_GAP - now
        return max(0.0, min(rest, self._detail_at + STALE_AT_MOST - now))

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
        the newest one (at most one query in flight; a held key's rows are skipped, see
        :meth:`_detail_wait`)."""
        try:
            while (wanted := self._detail_wanted) is not None:
                if (wait := self._detail_wait()) > 0:
                    await asyncio.sleep(wait)
                    continue
                try:
                    detail = await asyncio.to_thread(self.services.request_detail, wanted)
                except LookupError:
                    detail = None
                if wanted != self._detail_wanted:
                    continue
                pane = self.detail
                if detail is None:
                    pane.show_message("This request no longer exists.")
                else:
                    pane.show_detail(detail)
                self._detail_at = time.monotonic()
                return
        finally:
            self._detail_busy = False

    # ------------------------------------------------------------------ keys that apply
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
