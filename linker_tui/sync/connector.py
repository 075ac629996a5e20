"""What a PMS connector gives the sync engine: the rows that changed since the last run.

A connector reads one source (a folder of CSV exports today; Open Dental's tables
later). It is asked for a cheap :meth:`Connector.cursor` first: when it equals the cursor
of the last successful run, nothing changed and the run stops there. Otherwise
:meth:`Connector.changes` returns a :class:`ChangeSet`: the new or changed providers,
patients and appointments (parsed and checked; many appointments may come column by
column, :class:`AppointmentBlock`, instead of an object each), the problems found, the
appointment ids that disappeared from the export and, for a full export, its date
window.

``state`` is the connector's own memory of the last successful run (opaque bytes per
name, e.g. the fingerprints of the rows it imported); the engine stores what
:meth:`ChangeSet.new_state` returns in the same transaction as the data, so the two never
disagree. A source with a real change cursor (Open Dental's ``DateTStamp``) keeps that
cursor there instead.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, NamedTuple, Protocol, TypeVar

from linker_tui.ingest.pms_export import (
    AppointmentColumns,
    AppointmentRow,
    PatientRow,
    ProviderRow,
    RowProblem,
)
from linker_tui.sync.control import StopFlag
from linker_tui.sync.state import StateValue

R = TypeVar("R")


class Changed(NamedTuple, Generic[R]):
    """A new or changed row, the line it was read on, and the connector's handle for it
    (``key``, given back by :meth:`TableChanges.refuse`)."""

    row: R
    line: int
    key: int


@dataclass
class AppointmentBlock:
    """Changed appointments given column by column (a connector's bulk reading), with
    the line and key of each row as in :class:`Changed`."""

    columns: AppointmentColumns = field(default_factory=AppointmentColumns)
    lines: list[int] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def slice(self, first: int, end: int) -> AppointmentBlock:
        """Rows ``first`` to ``end``."""
        return AppointmentBlock(
            self.columns.slice(first, end), self.lines[first:end], self.keys[first:end]
        )

    def extend(self, more: AppointmentBlock) -> None:
        """Add the rows of ``more`` at the end."""
        self.columns.extend(more.columns)
        self.lines.extend(more.lines)
        self.keys.extend(more.keys)


def merged_block(
    changed: Sequence[Changed[AppointmentRow]], block: AppointmentBlock | None
) -> AppointmentBlock:
    """Changed appointments column by column in the order of their keys: the rows of
    ``changed`` merged into ``block`` (both in key order)."""
    if not changed:
        return block if block is not None else AppointmentBlock()
    rows = AppointmentBlock(
        AppointmentColumns.of(c.row for c in changed),
        [c.line for c in changed],
        [c.key for c in changed],
    )
    if block is None or not len(block):
        return rows
    out = AppointmentBlock()
    done = 0
    for index, key in enumerate(rows.keys):  # both in key order: merge
        upto = bisect_left(block.keys, key, done)
        out.extend(block.slice(done, upto))
        out.extend(rows.slice(index, index + 1))
        done = upto
    out.extend(block.slice(done, len(block)))
    return out


@dataclass
class TableChanges(Generic[R]):
    """The changes to one table (one file of the export)."""

    file: str
    seen: int = 0  # data rows in the source (changed or not)
    previous: int = 0  # rows the last run imported
    changed: list[Changed[R]] = field(default_factory=list)
    removed_ids: set[str] = field(default_factory=set)  # gone since the last run
    ignored: int = 0  # rows that are no appointment (status mapped to ``ignore``)
    readable: bool = True  # False: the file could not be read; what is stored stays
    # False: some records could not be read at all (their ids are unknown), so rows missing
    # from the source are not taken as deleted (nothing is cancelled for them)
    complete: bool = True
    refused: set[int] = field(default_factory=set)  # keys refused by the engine
    # appointments only: more changed rows, column by column (with ``changed``: in the
    # order of their keys)
    block: AppointmentBlock | None = None
    # appointments only, instead of ``changed`` and ``block``: the changed rows a batch at
    # a time, read while the engine writes them (a big import is never held whole). The
    # other fields (``removed_ids``, ``complete``, ...) are final once it is exhausted.
    batches: Iterator[AppointmentBlock] | None = None
    # other tables, instead of ``changed``: the changed rows a batch at a time, likewise
    row_batches: Iterator[list[Changed[R]]] | None = None

    def refuse(self, item: Changed[R]) -> None:
        """The engine could not store this row (e.g. unknown patient): it is read again
        next time instead of being remembered as imported."""
        self.refused.add(item.key)


@dataclass
class ChangeSet:
    """Everything a connector found, for one run."""

    source: str
    cursor: str
    providers: TableChanges[ProviderRow]
    patients: TableChanges[PatientRow]
    appointments: TableChanges[AppointmentRow]
    problems: list[RowProblem] = field(default_factory=list)
    # min..max appointment start of a full export (None: not a full export, or empty)
    window: tuple[datetime, datetime] | None = None
    state_builder: Callable[[ChangeSet], dict[str, StateValue]] | None = None
    # ends what the connector keeps open while its batches are read (a snapshot)
    closer: Callable[[], None] | None = None

    @property
    def rows_seen(self) -> int:
        """Data rows read from the source."""
        return self.providers.seen + self.patients.seen + self.appointments.seen

    def close(self) -> None:
        """Let go of what the connector keeps open for its batches (the run is over,
        however it ended); nothing to do when it read everything beforehand."""
        if self.closer is not None:
            self.closer()

    def new_state(self) -> dict[str, StateValue]:
        """The connector state to store with this run's data (names left out keep what
        is stored)."""
        return self.state_builder(self) if self.state_builder is not None else {}


class Connector(Protocol):
    """A source of PMS data."""

    @property
    def source(self) -> str:
        """Names the source (runs and state are kept per source)."""
        ...

    def cursor(self, stop: StopFlag) -> str:
        """A cheap token that changes whenever the source may have changed."""
        ...

    def changes(self, state: MutableMapping[str, bytes], stop: StopFlag) -> ChangeSet:
        """The rows changed since the run that left ``state`` (the connector may take
        what it has read out of ``state``: the caller keeps no use for it)."""
        ...
