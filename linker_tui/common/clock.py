"""The time source. Everything asks a Clock, so tests and snapshots can fix the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that knows the current time (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still (tests, snapshots, benchmarks)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self.at = at.astimezone(UTC)

    def now(self) -> datetime:
        """Return the fixed time."""
        return self.at

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (tests wait this way instead of sleeping)."""
        self.at += delta


#: The years a stored moment (an appointment, a request) may fall in; outside them a
#: date-time is a typing or export error, and near the ends of ``datetime``'s range it
#: cannot even be converted to UTC.
STORABLE_YEARS = (1800, 2999)


def storable(moment: datetime) -> datetime:
    """``moment`` (timezone-aware) if it can be stored: raises ValueError, with the reason,
    for a year outside :data:`STORABLE_YEARS` (or one that overflows in UTC)."""
    first, last = STORABLE_YEARS
    if first < moment.year < last:  # UTC is at most a day away: the same or a next year
        return moment
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        year = moment.year
    if not first <= year <= last:
        raise ValueError(f"the year is outside {first}-{last}")
    return moment
