"""A table of records (emails, sync runs): one row per record, columns that share the
width, and a cursor that stays on the same record when the rows are replaced."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.binding import BindingType
from textual.widgets import DataTable

from linker_tui.tui.widgets.columns import GAP, ColumnSpec, fit_widths

RecordT = TypeVar("RecordT")

SCROLLBAR = 1
"""Cells kept free for the vertical scrollbar."""


class RecordTable(DataTable[Text], Generic[RecordT], inherit_bindings=False):
    """Subclasses set :attr:`COLUMNS` and implement :meth:`key_of` and :meth:`cells`."""

    BINDINGS: ClassVar[list[BindingType]] = list(DataTable.BINDINGS)
    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = ()

    def __init__(self, tz: ZoneInfo, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", cell_padding=0, id=id)
        self.tz = tz
        self.records: tuple[RecordT, ...] = ()
        self._widths: dict[str, int] = {}

    def key_of(self, record: RecordT) -> Hashable:
        """What identifies a record across refreshes (its database id)."""
        raise NotImplementedError

    def cells(self, record: RecordT, widths: dict[str, int]) -> list[Text]:
        """The record's cells, fitted to ``widths`` (per column key)."""
        raise NotImplementedError

    def show(self, records: Sequence[RecordT]) -> None:
        """Replace the rows, keeping the cursor on the same record (else the same place)."""
        current = self.current()
        index = max(self.cursor_row, 0)
        self.records = tuple(records)
        if current is not None:
            key = self.key_of(current)
            index = next((i for i, r in enumerate(self.records) if self.key_of(r) == key), index)
        self._render_rows(index)

    def current(self) -> RecordT | None:
        """The record under the cursor."""
        if not self.records or not 0 <= self.cursor_row < len(self.records):
            return None
        return self.records[self.cursor_row]

    def on_resize(self) -> None:
        """Share the new width between the columns."""
        if fit_widths(self.COLUMNS, max(0, self.size.width - SCROLLBAR)) != self._widths:
            self._render_rows(max(self.cursor_row, 0))

    def _render_rows(self, index: int) -> None:
        widths = fit_widths(self.COLUMNS, max(0, self.size.width - SCROLLBAR))
        if widths != self._widths or not self.columns:
            self.clear(columns=True)
            self._widths = widths
            for spec in self.COLUMNS:
                self.add_column(Text(spec.label), width=widths[spec.key] + GAP, key=spec.key)
        else:
            self.clear()
        for record in self.records:
            self.add_row(*self.cells(record, widths), key=str(self.key_of(record)))
        if self.records:
            self.move_cursor(row=min(index, len(self.records) - 1), animate=False)
