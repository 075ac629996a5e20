"""The main screen: where staff work through the requests (:class:`MainScreen`).

Built in three layers along its seams: :mod:`.main_list` (the list, its pages, the
detail pane, which keys apply), :mod:`.main_live` (start, live refresh, status line) and
this module (the keys: decisions, screens, pages, filter; and failed workers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import ClassVar

from textual import events, on, work
from textual.binding import BindingType
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from linker_tui.read.queries import PAGE_SIZE
from linker_tui.read.views import RequestRow
from linker_tui.tui.db_watch import failed_decision, outage_of
from linker_tui.tui.keys import MAIN_KEYS, KeySpec, bindings
from linker_tui.tui.messages import SyncRequested
from linker_tui.tui.screens.main_list import DECISION_GROUP
from linker_tui.tui.screens.main_live import POLL_GROUP, LiveScreen
from linker_tui.tui.widgets.top_bar import FilterInput

__all__ = ["DECISION_GROUP", "POLL_GROUP", "MainScreen"]


class MainScreen(LiveScreen):
    """Where staff work through the requests."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(MAIN_KEYS))
    """The decisions and screens (``keys.MAIN_KEYS``); the list has its cursor keys."""

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

    @on(events.DescendantBlur, "#filter")
    def _filter_blurred(self) -> None:
        self._show_page_status()  # at its own width again (kept while typing)

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
