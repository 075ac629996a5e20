"""The typed rows read from an export (providers, patients, appointments; appointments
also column by column), and the problems and refusals of reading them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import compress
from typing import Any

from linker_tui.store.enums import AppointmentStatus


@dataclass(frozen=True)
class RowProblem:
    """A row that could not be read."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class BadRow(ValueError):
    """Raised by a row parser; the message is the reason shown to staff."""


class IgnoredRow(Exception):
    """Raised by a row parser for a row that is no appointment (mapped to ``ignore``)."""


@dataclass
class ProviderRow:
    """A row of ``providers.csv``."""

    pms_id: str
    abbr: str
    first_name: str
    last_name: str
    title: str
    active: bool


@dataclass
class PatientRow:
    """A row of ``patients.csv``."""

    pms_id: str
    last_name: str
    first_name: str
    preferred_name: str
    birthdate: date | None
    email: str
    phone_home: str
    phone_mobile: str
    guarantor_pms_id: str
    no_email: bool


@dataclass(slots=True)
class AppointmentRow:
    """A row of ``appointments.csv``; ``start`` is timezone-aware."""

    pms_id: str
    patient_pms_id: str
    provider_pms_id: str
    start: datetime
    duration_min: int
    operatory: str
    reason: str
    status: AppointmentStatus
    updated_at: datetime | None


#: The fields of :class:`AppointmentRow`, in order.
APPOINTMENT_FIELDS = (
    "pms_id",
    "patient_pms_id",
    "provider_pms_id",
    "start",
    "duration_min",
    "operatory",
    "reason",
    "status",
    "updated_at",
)


@dataclass
class AppointmentColumns:
    """Appointments column by column: a list per field of :class:`AppointmentRow` (a
    million rows cost a few lists instead of a million objects)."""

    pms_id: list[str] = field(default_factory=list)
    patient_pms_id: list[str] = field(default_factory=list)
    provider_pms_id: list[str] = field(default_factory=list)
    start: list[datetime] = field(default_factory=list)
    duration_min: list[int] = field(default_factory=list)
    operatory: list[str] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    status: list[AppointmentStatus] = field(default_factory=list)
    updated_at: list[datetime | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pms_id)

    def lists(self) -> list[list[Any]]:
        """The lists, in the order of :data:`APPOINTMENT_FIELDS`."""
        return [getattr(self, name) for name in APPOINTMENT_FIELDS]

    @classmethod
    def of(cls, rows: Iterable[AppointmentRow]) -> AppointmentColumns:
        """The columns of these rows."""
        out = cls()
        for row in rows:
            out.append(row)
        return out

    def append(self, row: AppointmentRow) -> None:
        """Add one row."""
        for values, name in zip(self.lists(), APPOINTMENT_FIELDS, strict=True):
            values.append(getattr(row, name))

    def extend(self, other: AppointmentColumns, keep: Sequence[bool] | None = None) -> None:
        """Add the rows of ``other`` (those whose ``keep`` is true)."""
        for mine, theirs in zip(self.lists(), other.lists(), strict=True):
            mine.extend(theirs if keep is None else compress(theirs, keep))

    def slice(self, first: int, end: int) -> AppointmentColumns:
        """Rows ``first`` to ``end``."""
        return AppointmentColumns(*(values[first:end] for values in self.lists()))

    def row(self, index: int) -> AppointmentRow:
        """One row as an object."""
        return AppointmentRow(*(values[index] for values in self.lists()))
