"""The sync runs: the newest runs with their counts, and the highlighted run's problems
(``appointments.csv:7: appointment_id is missing``), as literal text."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from linker_tui.services import Services
from linker_tui.store.enums import SyncRunStatus
from linker_tui.sync.queries import SyncProblemView
from linker_tui.sync.summary import SyncSummary
from linker_tui.tui.formatting import count, received
from linker_tui.tui.keys import RUNS_KEYS, KeySpec, bindings
from linker_tui.tui.messages import PmsSynced, SyncRequested
from linker_tui.tui.safe import cell, line
from linker_tui.tui.widgets.columns import ColumnSpec
from linker_tui.tui.widgets.keybar import KeyBar
from linker_tui.tui.widgets.record_table import RecordTable

LIMIT = 50
PROBLEM_LIMIT = 200

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("id", "Run", 4),
    ColumnSpec("started", "Started", 11),
    ColumnSpec("status", "Status", 8),
    ColumnSpec("trigger", "By", 6, weight=1, maximum=10),
    ColumnSpec("seen", "Seen", 5, weight=1, maximum=8),
    ColumnSpec("new", "New", 4, weight=1, maximum=6),
    ColumnSpec("updated", "Chg", 4, weight=1, maximum=6),
    ColumnSpec("cancelled", "Canc", 4, weight=1, maximum=6),
    ColumnSpec("problems", "Prob", 4, weight=1, maximum=6),
    ColumnSpec("error", "Error / note", 10, weight=6),
)
"""At 80 columns everything fits; the finish time is in the run's line under the list."""

STATUS_TEXT = {
    SyncRunStatus.RUNNING: "running",
    SyncRunStatus.OK: "ok",
    SyncRunStatus.FAILED: "! failed",
    SyncRunStatus.CANCELLED: "stopped",
    SyncRunStatus.SKIPPED: "skipped",
}
"""Without colour a failure still stands out: ``!``."""


class RunsTable(RecordTable[SyncSummary]):
    """The runs, newest first; the row key is the run id."""

    COLUMNS = COLUMNS

    def key_of(self, run: SyncSummary) -> int | None:
        """The database id."""
        return run.run_id

    def cells(self, run: SyncSummary, widths: dict[str, int]) -> list[Text]:
        """One cell per column."""
        w = widths
        values = {
            "id": f"#{run.run_id}",
            "started": received(run.started_at, self.tz),
            "status": STATUS_TEXT.get(run.status, run.status.value),
            "trigger": run.trigger,
            "seen": str(run.rows_seen),
            "new": str(run.inserted),
            "updated": str(run.updated),
            "cancelled": str(run.cancelled),
            "problems": str(run.problems),
            "error": run.error or run.note or "-",
        }
        style = "bold" if run.status is SyncRunStatus.FAILED else ""
        return [cell(values[spec.key], w[spec.key], style) for spec in COLUMNS]


def run_detail(
    run: SyncSummary | None, problems: Sequence[SyncProblemView], tz: ZoneInfo
) -> list[Text]:
    """The highlighted run in words, then one line per problem (``file:line: reason``)."""
    if run is None:
        return [Text("No sync runs yet.")]
    head = [cell(run.text(), style="bold")]
    if not run.problems:
        return [*head, Text("No problems.")]
    shown = f"{count(run.problems)} problem{'s' if run.problems != 1 else ''}"
    if len(problems) < run.problems:
        shown += f", the first {count(len(problems))} shown"
    rows = [*head, Text(shown + ":")]
    rows += [cell(f"{p.source}  {p}") for p in problems]
    return rows


class SyncRunsScreen(Screen[None]):
    """Recent sync runs (of every workstation) and what they could not import."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(RUNS_KEYS))
    AUTO_FOCUS = "#runs"

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.tz = services.settings.tz
        self._problems_for: int | None = None

    def compose(self) -> ComposeResult:
        """Title, the runs, the highlighted run's problems, the keys."""
        with Horizontal(id="runs-header"):
            yield Static(line(("Sync runs", "bold")), id="runs-title")
            yield Static(line(""), id="runs-counts", markup=False)
        yield RunsTable(self.tz, id="runs")
        with VerticalScroll(id="runs-problems-box"):
            yield Static(line(""), id="runs-problems", markup=False)
        yield KeyBar(id="runs-keys")

    def on_mount(self) -> None:
        """Load the list."""
        self.reload()

    @property
    def table(self) -> RunsTable:
        """The list of runs."""
        return self.query_one(RunsTable)

    def on_pms_synced(self, message: PmsSynced) -> None:
        """A sync ended: read the runs again."""
        self.reload()

    @work(exclusive=True, group="runs-load", exit_on_error=False)
    async def reload(self) -> None:
        """Read the runs again (off the UI thread)."""
        runs = await asyncio.to_thread(self.services.sync_runs, LIMIT)
        self.table.show(runs)
        shown = f"newest {count(len(runs))}" if runs else "no runs yet"
        self.query_one("#runs-counts", Static).update(line(shown))
        self._problems_for = None
        self._show_current()

    @on(DataTable.RowHighlighted, "#runs")
    def _highlighted(self) -> None:
        self._show_current()

    def _show_current(self) -> None:
        run = self.table.current()
        run_id = run.run_id if run is not None else None
        if run_id == self._problems_for and run_id is not None:
            return
        self._problems_for = run_id
        self._load_problems(run)

    @work(exclusive=True, group="runs-problems", exit_on_error=False)
    async def _load_problems(self, run: SyncSummary | None) -> None:
        problems: list[SyncProblemView] = []
        if run is not None and run.run_id is not None and run.problems:
            problems = await asyncio.to_thread(
                self.services.sync_problems, run.run_id, PROBLEM_LIMIT
            )
        rows = run_detail(run, problems, self.tz)
        self.query_one("#runs-problems", Static).update(Text("\n").join(rows))

    def problems_text(self) -> str:
        """What the problems pane shows (for tests)."""
        return str(self.query_one("#runs-problems", Static).content)

    def action_back(self) -> None:
        """Back to the request list."""
        self.dismiss(None)

    def action_refresh(self) -> None:
        """Read the runs again."""
        self.reload()

    def action_sync(self) -> None:
        """Sync now (the list follows when it is done)."""
        self.post_message(SyncRequested())

    def palette_actions(self) -> Iterator[KeySpec]:
        """The actions the command palette offers now."""
        yield from RUNS_KEYS

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed read becomes a notification."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"Something went wrong: {type(error).__name__}: {error}",
                title="Error",
                severity="error",
                markup=False,
                timeout=15,
            )
