"""The request list: header with counts, filter, a page of requests, the detail pane.

The screen draws every line itself (Textual's Line API, :meth:`MainScreen.render_line`):
the header and filter line (:class:`TopBar`), the list (:class:`RequestTable`), the detail
pane (:class:`DetailPane`), the status line and the keys (:class:`BottomBar`). Those are
plain objects holding what they show. Every widget on the first frame costs start-up time;
drawn this way the screen starts about as fast as an empty Textual app. The filter's input
field is the one widget, mounted over the filter line the first time staff filter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.style import Style
from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from linker_tui.models import OutboxStatus, RequestState
from linker_tui.queries import (
    PAGE_SIZE,
    ChangeStamp,
    ListQuery,
    RequestPage,
    change_stamp,
    request_detail,
    request_page,
    state_counts,
)
from linker_tui.services import Services
from linker_tui.sync.queries import SyncStatus
from linker_tui.tui.flows import Flows
from linker_tui.tui.formatting import RANGE_DASH, count
from linker_tui.tui.jobs import MailQueued
from linker_tui.tui.keys import (
    MAIN_KEYS,
    NEXT_PAGE,
    OUTBOX,
    PREVIOUS_PAGE,
    SYNC,
    SYNC_RUNS,
    KeySpec,
    bindings,
)
from linker_tui.tui.safe import SafeInput, line
from linker_tui.tui.screens.outbox import OutboxScreen
from linker_tui.tui.screens.sync_runs import SyncRunsScreen
from linker_tui.tui.widgets.bottom_bar import BottomBar
from linker_tui.tui.widgets.detail import HEIGHT as DETAIL_HEIGHT
from linker_tui.tui.widgets.detail import DetailPane
from linker_tui.tui.widgets.keybar import follow_bindings, keys_content
from linker_tui.tui.widgets.line_styles import COMPONENTS, LineStyles
from linker_tui.tui.widgets.request_table import RequestTable
from linker_tui.tui.widgets.status import sync_status_text
from linker_tui.tui.widgets.top_bar import LABEL, TopBar
from linker_tui.views import RequestRow
from linker_tui.workflow import WorkflowError

DECISION_GROUP = "decision"
POLL_GROUP = "poll"
FILTER_HINT = "/ to filter"
TOP_LINES = 2
"""The header and the filter line."""
BOTTOM_LINES = 2
"""The status line and the keys."""


@dataclass(frozen=True)
class _Loaded:
    page: RequestPage
    counts: dict[RequestState, int]
    mail: dict[OutboxStatus, int]


class FilterInput(SafeInput):
    """The filter field: Enter or ↓ goes back to the list, Esc clears it first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave(True)", "Clear filter", id="filter.clear"),
        Binding("down", "leave(False)", "To the list", show=False, id="filter.to_list"),
    ]

    def action_leave(self, clear: bool) -> None:
        """Back to the list (clearing the text on Esc)."""
        if clear:
            self.value = ""
        self.screen.set_focus(None)  # the list has the keys when nothing is focused


class MainScreen(Screen[None]):
    """Where staff work through the requests."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings(MAIN_KEYS),
        Binding("up", "list('cursor_up')", "Cursor up", show=False),
        Binding("down", "list('cursor_down')", "Cursor down", show=False),
        Binding("pageup", "list('page_up')", "Page up", show=False),
        Binding("pagedown", "list('page_down')", "Page down", show=False),
        Binding("ctrl+home", "list('first')", "Top", show=False),
        Binding("ctrl+end", "list('last')", "Bottom", show=False),
    ]
    """The decisions and screens (``keys.MAIN_KEYS``), and the list's cursor keys: ↑ ↓,
    PgUp PgDn a screen, ctrl+Home ctrl+End the first and last row (ctrl+PgUp/ctrl+PgDn
    are the previous/next page)."""
    AUTO_FOCUS = ""
    """Nothing is focused: the list has the keys (the filter field takes them while it
    has the focus)."""
    COMPONENT_CLASSES: ClassVar[set[str]] = set(COMPONENTS.values())

    def __init__(self, services: Services, *, live_seconds: float | None = None) -> None:
        super().__init__()
        self.services = services
        self.tz = services.settings.tz
        self.live_seconds = live_seconds
        """How often the screen looks whether anything changed (None: never by itself)."""
        self._stamp: ChangeStamp | None = None
        self._sync_status: SyncStatus | None = None
        self._flows: Flows | None = None
        self.list_query = ListQuery()
        self.page_offset = 0
        self.page_total = 0
        self._detail_wanted: int | None = None
        self._detail_busy = False
        self._bindings_state: tuple[object, ...] | None = None
        self.top_bar = TopBar(
            services.settings.practice_name, FILTER_HINT, refresh=self._refresh_top
        )
        self.table = RequestTable(
            self.tz, highlighted=self._highlighted, refresh=self._refresh_list
        )
        self.detail = DetailPane(self.tz, refresh=self._refresh_detail)
        self.bottom_bar = BottomBar(refresh=self._refresh_bottom)
        self._line_styles: LineStyles | None = None
        self._scrollbar: tuple[Style, Style] | None = None

    # ------------------------------------------------------------------ drawing
    def _detail_top(self) -> int:
        """The detail pane's first line (the list is everything above, under the top
        lines)."""
        return max(TOP_LINES, self.size.height - BOTTOM_LINES - DETAIL_HEIGHT)

    def _bottom_top(self) -> int:
        """The status line."""
        return max(TOP_LINES, self.size.height - BOTTOM_LINES)

    def _styles(self) -> LineStyles:
        if self._line_styles is None:
            self._line_styles = LineStyles.read(self, list_focused=self.focused is None)
        return self._line_styles

    def _scrollbar_styles(self) -> tuple[Style, Style]:
        """The list scrollbar's (background, thumb) styles, computed as Textual's own
        scrollbar computes them (over the background of the list's parent: the screen)."""
        if self._scrollbar is None:
            styles = self.styles
            background = styles.scrollbar_background
            if background.a < 1:
                background = self.background_colors[1] + background
            color = background + styles.scrollbar_color
            self._scrollbar = Style(bgcolor=background.rich_color), Style(color=color.rich_color)
        return self._scrollbar

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the screen: header, filter line, list, detail, status, keys."""
        width = self.size.width
        styles = self._styles()
        detail_top, bottom_top = self._detail_top(), self._bottom_top()
        if y < TOP_LINES:
            return self.top_bar.line(y, width, styles)
        if y < detail_top:
            # The first frame can come before the screen's first resize event.
            self.table.resize(width, detail_top - TOP_LINES)
            return self.table.line(y - TOP_LINES, styles, self._scrollbar_styles())
        if y < bottom_top:
            return self.detail.line(y - detail_top, width, styles, self)
        return self.bottom_bar.line(y - bottom_top, width, styles)

    def notify_style_update(self) -> None:
        """Styles changed (theme, monochrome): draw with the new ones."""
        self._line_styles = None
        self._scrollbar = None
        super().notify_style_update()

    def watch_focused(self) -> None:
        """The list's cursor is brighter while the list has the keys (nothing focused)."""
        self._line_styles = None
        self._refresh_list()

    def _refresh_lines(self, top: int, count: int) -> None:
        if self.is_attached:
            self.refresh(Region(0, top, self.size.width, count))

    def _refresh_top(self, line: int) -> None:
        self._refresh_lines(line, 1)

    def _refresh_list(self) -> None:
        self._refresh_lines(TOP_LINES, self._detail_top() - TOP_LINES)

    def _refresh_detail(self) -> None:
        self._refresh_lines(self._detail_top(), DETAIL_HEIGHT)

    def _refresh_bottom(self, line: int) -> None:
        self._refresh_lines(self._bottom_top() + line, 1)

    def on_resize(self, event: events.Resize) -> None:
        """Share the new size between the list and the rest (the cursor stays in view)."""
        self.table.resize(event.size.width, self._detail_top() - TOP_LINES)
        self._show_keys()

    # ------------------------------------------------------------------ start
    def on_mount(self) -> None:
        """Once the screen is drawn (the list says it is loading): load the first page and
        the sync status, and look for changes every few seconds; follow the bindings in
        the key line."""
        follow_bindings(self, self._show_keys)
        self.call_after_refresh(self._start)

    def _show_keys(self) -> None:
        if self.is_attached:
            self.bottom_bar.show_keys(keys_content(self, self.size.width))

    def _start(self) -> None:
        if not self.is_attached:
            return
        self.reload()
        self.poll()
        if self.live_seconds:
            self.set_interval(self.live_seconds, self._tick)

    @property
    def flows(self) -> Flows:
        """The decision flows (made once the screen belongs to the app)."""
        if self._flows is None:
            stop = getattr(self.app, "stop_flag", None)
            self._flows = Flows(self.app, self.services, self._mail_queued, stop=stop)
        return self._flows

    @property
    def selected(self) -> RequestRow | None:
        """The request under the cursor, read from the table itself (not from the last
        highlight message, which may still be queued behind a fast key press)."""
        return self.table.current_row()

    # ------------------------------------------------------------------ loading
    def reload(self, *, keep_id: int | None = None, keep_index: int | None = None) -> None:
        """Load the current page again (off the UI thread), keeping the cursor on the same
        request if it is still listed, else at the same position."""
        if keep_id is None and self.selected is not None:
            keep_id = self.selected.id
        if keep_index is None:
            keep_index = max(self.table.cursor_row, 0)
        self._load(self.list_query, self.page_offset, keep_id, keep_index)

    @work(exclusive=True, group="list", exit_on_error=False)
    async def _load(
        self, query: ListQuery, offset: int, keep_id: int | None, keep_index: int
    ) -> None:
        loaded = await asyncio.to_thread(self._fetch, query, offset)
        self.page_offset, self.page_total = loaded.page.offset, loaded.page.total
        self.top_bar.show_counts(loaded.counts)
        self.show_mail(loaded.mail)
        self.table.show_rows(
            loaded.page.rows,
            show_state=query.show_handled,
            keep_id=keep_id,
            keep_index=keep_index,
        )
        self._show_page_status()

    def _fetch(self, query: ListQuery, offset: int) -> _Loaded:
        services = self.services
        now = services.clock.now()
        page = request_page(
            services.engine, query, offset, self.tz, now, services.settings.phone_region
        )
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
        self._stamp = stamp

    def _read_poll(self) -> tuple[SyncStatus, ChangeStamp]:
        return self.services.sync_status(), change_stamp(self.services.engine)

    def show_sync(self, status: SyncStatus | None = None) -> None:
        """The sync part of the status line ("synced 40 s ago · +3 ~12 appts")."""
        if status is not None:
            self._sync_status = status
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

    def show_syncing(self) -> None:
        """Say a sync started at this desk (until it ends)."""
        self.bottom_bar.show_sync("syncing…")

    # ------------------------------------------------------------------ status line
    def show_mail(self, counts: dict[OutboxStatus, int]) -> None:
        """The outbox part of the status line ("2 emails failed — m to see")."""
        self.bottom_bar.show_mail(counts, self._keys(OUTBOX))

    @work(exclusive=True, group="mail-status", exit_on_error=False)
    async def refresh_mail(self) -> None:
        """Read the outbox counts again (after a relay run, a retry or a cancel)."""
        self.show_mail(await asyncio.to_thread(self.services.outbox_counts))

    def _mail_queued(self, outbox_id: int, address: str) -> None:
        self.app.post_message(MailQueued(outbox_id, address))

    def _show_page_status(self) -> None:
        rows = len(self.table.rows_shown)
        handled = self.list_query.show_handled
        if not rows:
            status = "no requests" if handled else "no open requests"
        else:
            first, last = count(self.page_offset + 1), count(self.page_offset + rows)
            status = f"rows {first}{RANGE_DASH}{last} of {count(self.page_total)}"
            status += " · all" if handled else " · open"
            if self.page_total > PAGE_SIZE:
                status += f" · {self._keys(PREVIOUS_PAGE)} {self._keys(NEXT_PAGE)} page"
        if self.top_bar.show_status(status) and self.top_bar.field_open:
            self.query_one("#page-status", Static).update(line(self.top_bar.status_text))

    def _keys(self, spec: KeySpec) -> str:
        keys = spec.current_keys(self.services.settings.keys)
        return self.app.get_key_display(Binding(keys[0], spec.action)) if keys else "?"

    # ------------------------------------------------------------------ cursor
    def _highlighted(self) -> None:
        self._set_current(self.table.current_row())

    def action_list(self, move: str) -> None:
        """Move the list's cursor (``cursor_up``, ``page_down``, ``first``, ...)."""
        moves = {
            "cursor_up": self.table.cursor_up,
            "cursor_down": self.table.cursor_down,
            "page_up": self.table.page_up,
            "page_down": self.table.page_down,
            "first": self.table.first,
            "last": self.table.last,
        }
        moves[move]()

    def on_click(self, event: events.Click) -> None:
        """A click on a row of the list puts the cursor there."""
        if TOP_LINES <= event.y < self._detail_top():
            self.table.click(event.y - TOP_LINES)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """The wheel scrolls the list (a line per step)."""
        event.stop()  # unstopped, the same wheel step reached the screen a second time
        self.table.scroll_to(self.table.scroll_y + 1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """The wheel scrolls the list (a line per step)."""
        event.stop()  # as above
        self.table.scroll_to(self.table.scroll_y - 1)

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
                        request_detail, services.engine, wanted, self.tz, services.clock.now()
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
        if action == "dismiss_attention":
            if row is None or not row.attention:
                return False
            return None if self._deciding() else True
        if action == "next_page":
            return True if self.page_offset + PAGE_SIZE < self.page_total else None
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
            self.page_offset + PAGE_SIZE < self.page_total,
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

    def action_outbox(self) -> None:
        """Open the mail outbox."""
        self.app.push_screen(OutboxScreen(self.services))

    def action_sync(self) -> None:
        """Sync now (in the background; the list follows when it is done)."""
        sync = getattr(self.app, "sync_now", None)
        if sync is not None:
            sync()

    def action_sync_runs(self) -> None:
        """Show the recent sync runs and their problems."""
        self.app.push_screen(SyncRunsScreen(self.services))

    def _decide(self, flow: Callable[[RequestRow], Awaitable[bool]], row: RequestRow) -> None:
        if self._deciding():
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

    async def action_filter(self) -> None:
        """Focus the filter field (mounting it the first time)."""
        fields = self.query(FilterInput)
        if fields:
            fields.first().focus()
            return
        field = FilterInput(placeholder=FILTER_HINT, id="filter", compact=True)
        await self.mount(
            Horizontal(
                Static(Content(LABEL), id="filter-label"),
                field,
                Static(line(self.top_bar.status_text), id="page-status"),
                id="filter-row",
            )
        )
        self.top_bar.field_open = True
        self._refresh_top(1)
        field.focus()

    def action_refresh(self) -> None:
        """Reload the list and the counts."""
        self.reload()

    def action_next_page(self) -> None:
        """The next page of the list."""
        if self.page_offset + PAGE_SIZE < self.page_total:
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
        self.reload(keep_index=0)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.set_focus(None)

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
        error = event.worker.error
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
