"""The request list: one page of rows in a DataTable whose columns fit the width."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import events
from textual.binding import BindingType
from textual.widgets import DataTable

from linker_tui.tui.formatting import received, short_datetime, state_short
from linker_tui.tui.safe import cell
from linker_tui.tui.widgets.columns import GAP, ColumnSpec, fit_widths
from linker_tui.views import RequestRow

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("received", "Received", 11),
    ColumnSpec("name", "Name", 10, weight=3, maximum=32),
    ColumnSpec("requested", "Requested", 15),
    ColumnSpec("provider", "Provider", 8, weight=2, maximum=24),
    ColumnSpec("reason", "Reason", 8, weight=2, maximum=32),
    ColumnSpec("hint", "Match", 17),
)
STATE_COLUMN = ColumnSpec("state", "State", 8)
WITH_STATE: tuple[ColumnSpec, ...] = (
    *COLUMNS[:-1],
    ColumnSpec("hint", "Match", 11, weight=1, maximum=17),
    STATE_COLUMN,
)
"""With handled requests shown the state column needs room: the match hint may be cut."""
SCROLLBAR = 1


class RequestTable(DataTable[Text], inherit_bindings=False):
    """A page of requests; row keys are the request ids (as strings).

    Only the table's own keys are kept: the scroll container's ctrl+PgUp/ctrl+PgDn
    (scroll sideways) would hide the screen's previous/next page keys.
    """

    BINDINGS: ClassVar[list[BindingType]] = list(DataTable.BINDINGS)

    def __init__(self, tz: ZoneInfo, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", cell_padding=0, id=id)
        self.tz = tz
        self.rows_shown: tuple[RequestRow, ...] = ()
        self.show_state = False
        self._widths: dict[str, int] = {}

    # ------------------------------------------------------------------ rows
    def show_rows(
        self,
        rows: Sequence[RequestRow],
        *,
        show_state: bool,
        keep_id: int | None = None,
        keep_index: int = 0,
    ) -> None:
        """Replace the rows; put the cursor on ``keep_id`` if it is still listed, else near
        ``keep_index``."""
        self.rows_shown = tuple(rows)
        self.show_state = show_state
        self._render_rows(keep_id, keep_index)

    def current_row(self) -> RequestRow | None:
        """The request under the cursor."""
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    def _columns(self) -> tuple[ColumnSpec, ...]:
        return WITH_STATE if self.show_state else COLUMNS

    def _render_rows(self, keep_id: int | None, keep_index: int) -> None:
        specs = self._columns()
        widths = fit_widths(specs, max(0, self.size.width - SCROLLBAR))
        if widths != self._widths or len(self.columns) != len(specs):
            self.clear(columns=True)
            self._widths = widths
            for spec in specs:
                self.add_column(Text(spec.label), width=widths[spec.key] + GAP, key=spec.key)
        else:
            self.clear()
        for row in self.rows_shown:
            self.add_row(*self._cells(row, specs), key=str(row.id))
        if not self.rows_shown:
            return
        index = min(max(keep_index, 0), len(self.rows_shown) - 1)
        if keep_id is not None:
            index = next((i for i, r in enumerate(self.rows_shown) if r.id == keep_id), index)
        self.move_cursor(row=index, animate=False)

    def _cells(self, row: RequestRow, specs: Sequence[ColumnSpec]) -> list[Text]:
        values = {
            "received": received(row.received_at, self.tz),
            "name": row.typed_name,
            "requested": short_datetime(row.requested_start, self.tz),
            "provider": row.requested_provider_name,
            "reason": row.reason,
            "hint": row.match_hint,
            "state": state_short(row.state),
        }
        return [cell(values[spec.key], self._widths[spec.key]) for spec in specs]

    # ---------------------------------------------------------------- layout
    def on_resize(self, event: events.Resize) -> None:
        """Share the new width between the columns (keeps the cursor where it was)."""
        if fit_widths(self._columns(), max(0, event.size.width - SCROLLBAR)) != self._widths:
            current = self.current_row()
            self._render_rows(current.id if current else None, self.cursor_row)
