"""The whole request on one screen: every field, the note in full with its line breaks,
scrolling when it is longer than the screen. Esc goes back to the list; a decision key
goes back to the list and starts the decision there (the same flow as from the list)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from linker_tui.read.views import RequestDetail
from linker_tui.services import Services
from linker_tui.store.enums import RequestState
from linker_tui.tui.formatting import appointment_summary, long_datetime, with_provider
from linker_tui.tui.keys import REQUEST_KEYS, KeySpec, bindings
from linker_tui.tui.messages import PmsSynced, RequestsChanged
from linker_tui.tui.safe import content, line
from linker_tui.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from linker_tui.tui.screens.main import MainScreen

DECISIONS = ("accept", "reject", "reopen", "patient", "dismiss_attention")
"""The actions this screen hands back to the request list (its result)."""

Field = tuple[str, Content]


def request_fields(detail: RequestDetail, tz: ZoneInfo) -> list[Field]:
    """Every field of the request as label and literal value (the note keeps its lines)."""
    row = detail.row
    patient = detail.patient_name or detail.patient_status or "-"
    if detail.patient_name and detail.patient_no_email:
        patient += " (asked not to be emailed)"
    fields: list[Field] = [
        ("State", line(row.state.label)),
        ("Received", line(long_datetime(row.received_at, tz))),
        ("Match", line(row.match_hint or "-")),
    ]
    if row.attention:
        fields.append(("! Sync", line(row.attention)))
    fields += [
        ("Name", line(row.typed_name or "(no name)")),
        ("Born", line(detail.typed_birthdate.isoformat() if detail.typed_birthdate else "-")),
        ("Phone", line(detail.typed_phone or "-")),
        ("Email", line(detail.typed_email or "-")),
        ("Patient", line(patient)),
        ("Requested", line(with_provider(row.requested_start, row.requested_provider_name, tz))),
        ("Reason", line(row.reason or "-")),
    ]
    if row.state is RequestState.LINKED:
        linked = appointment_summary(detail.linked, tz) if detail.linked else "(appointment gone)"
        fields.append(("Linked to", line(linked)))
    elif row.state is RequestState.REJECTED:
        fields.append(("Reason given", line(detail.reject_reason or "-")))
    if not row.state.open:
        decided = f"{detail.decided_by or '?'} at {long_datetime(detail.decided_at, tz)}"
        fields.append(("Decided by", line(decided)))
    fields.append(("Note", content(detail.note.strip()) if detail.note.strip() else line("-")))
    return fields


def open_request(main: MainScreen) -> None:
    """Show the request highlighted on ``main``; a decision key there comes back and starts
    the decision on the list (if the list still shows that request)."""
    row = main.selected
    if row is None:
        return

    def decided(action: str | None) -> None:
        selected = main.selected
        if action and selected is not None and selected.id == row.id:
            main.call_later(main.run_action, action)

    main.app.push_screen(RequestScreen(main.services, row.id), decided)


class RequestScreen(Screen[str | None]):
    """One request, all of it. Dismissed with None (back) or the decision to start."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(REQUEST_KEYS))
    AUTO_FOCUS = "#request-body"
    DEFAULT_CSS = """
    RequestScreen {
        layout: vertical;
        & > #request-header {
            height: 1;
            padding: 0 1;
            background: $panel;
        }
        & #request-title {
            width: 1fr;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        & > #request-body {
            height: 1fr;
            padding: 0 1;
            scrollbar-size-vertical: 1;
        }
        & #request-grid {
            grid-size: 2;
            grid-columns: 13 1fr;
            grid-gutter: 0 1;
            height: auto;
        }
        & .request-label {
            text-style: bold;
        }
        & .request-label, & .request-value {
            height: auto;
        }
    }
    """

    def __init__(self, services: Services, request_id: int) -> None:
        super().__init__()
        self.services = services
        self.tz = services.settings.tz
        self.request_id = request_id
        self.detail: RequestDetail | None = None

    def compose(self) -> ComposeResult:
        """Title, the fields in a scrolling box, the keys."""
        with Horizontal(id="request-header"):
            yield Static(line(("Request", "bold")), id="request-title")
        with VerticalScroll(id="request-body"):
            yield Grid(id="request-grid")
        yield KeyBar(id="request-keys")

    def on_mount(self) -> None:
        """Read the request."""
        self.reload()

    def on_requests_changed(self, message: RequestsChanged) -> None:
        """Another desk or the sync changed something: read the request again."""
        self.reload()

    def on_pms_synced(self, message: PmsSynced) -> None:
        """A sync ended (the match and the attention flag may have changed)."""
        self.reload()

    @work(exclusive=True, group="request-load", exit_on_error=False)
    async def reload(self) -> None:
        """Read the request (off the UI thread) and show it."""
        services = self.services
        try:
            detail = await asyncio.to_thread(services.request_detail, self.request_id)
        except LookupError:
            detail = None
        await self._show(detail)

    async def _show(self, detail: RequestDetail | None) -> None:
        self.detail = detail
        grid = self.query_one("#request-grid", Grid)
        title = self.query_one("#request-title", Static)
        await grid.remove_children()
        if detail is None:
            title.update(line(("Request", "bold")))
            await grid.mount(
                Static(line("This request no longer exists."), classes="request-value")
            )
        else:
            row = detail.row
            title.update(
                line(("Request ", "bold"), (row.external_id, "bold"), f" · {row.state.label}")
            )
            widgets = []
            for label, value in request_fields(detail, self.tz):
                widgets.append(Static(line(label), classes="request-label", markup=False))
                widgets.append(Static(value, classes="request-value", markup=False))
            await grid.mount_all(widgets)
        self.refresh_bindings()

    def text(self) -> str:
        """Everything the screen says, label and value per line (for tests)."""
        parts = [str(w.content) for w in self.query("#request-grid Static").results(Static)]
        return "\n".join(parts)

    # ---------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The decisions that apply to this request now (as on the list)."""
        if action not in DECISIONS:
            return True
        row = self.detail.row if self.detail is not None else None
        if row is None:
            return False
        if action == "dismiss_attention":
            return bool(row.attention)
        return row.state.open != (action == "reopen")

    def action_back(self) -> None:
        """Back to the request list."""
        self.dismiss(None)

    def _decide(self, action: str) -> None:
        if self.check_action(action, ()):
            self.dismiss(action)

    def action_accept(self) -> None:
        """Accept: back to the list, which starts the Accept flow for this request."""
        self._decide("accept")

    def action_reject(self) -> None:
        """Reject (from the list)."""
        self._decide("reject")

    def action_reopen(self) -> None:
        """Reopen (from the list)."""
        self._decide("reopen")

    def action_patient(self) -> None:
        """Choose or change the patient (from the list)."""
        self._decide("patient")

    def action_dismiss_attention(self) -> None:
        """The sync's warning has been seen (from the list)."""
        self._decide("dismiss_attention")

    def palette_actions(self) -> Iterator[KeySpec]:
        """The actions the command palette offers now."""
        for spec in REQUEST_KEYS:
            if self.check_action(spec.action, ()):
                yield spec

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed read becomes a notification (the database may be away)."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"Could not read the request: {type(error).__name__}: {error}",
                title="Error",
                severity="error",
                markup=False,
                timeout=15,
            )
