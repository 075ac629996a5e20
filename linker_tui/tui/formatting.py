"""How dates, times, appointments and counts read on screen (pure functions)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from linker_tui.read.views import AppointmentView
from linker_tui.store.enums import RequestState

if TYPE_CHECKING:
    from linker_tui.matching import Difference

_STATE_SHORT = {
    RequestState.PENDING: "pending",
    RequestState.WAITING_PMS: "waiting",
    RequestState.LINKED: "linked",
    RequestState.REJECTED: "rejected",
}

RANGE_DASH = "\u2013"
"""The en dash between the first and the last row shown (``rows 1 to 100``)."""
DIFFERS = "≠"
"""The marker put in front of whatever differs from the request (visible without colour)."""


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    """``moment`` in the practice's timezone."""
    return moment.astimezone(tz)


def long_datetime(moment: datetime | None, tz: ZoneInfo) -> str:
    """``Thu 2026-12-03 09:30``."""
    if moment is None:
        return "-"
    return local(moment, tz).strftime("%a %Y-%m-%d %H:%M")


def short_datetime(moment: datetime, tz: ZoneInfo) -> str:
    """``Thu 12-03 09:30`` (request list)."""
    return local(moment, tz).strftime("%a %m-%d %H:%M")


def received(moment: datetime, tz: ZoneInfo) -> str:
    """``11-26 14:05`` (request list)."""
    return local(moment, tz).strftime("%m-%d %H:%M")


def day(moment: datetime, tz: ZoneInfo) -> str:
    """``Thu 2026-12-03``."""
    return local(moment, tz).strftime("%a %Y-%m-%d")


def clock_time(moment: datetime, tz: ZoneInfo) -> str:
    """``09:30``."""
    return local(moment, tz).strftime("%H:%M")


def with_provider(moment: datetime, provider: str, tz: ZoneInfo) -> str:
    """``Thu 2026-12-03 09:30 with Dr. X`` (or without the provider when there is none)."""
    text = long_datetime(moment, tz)
    return f"{text} with {provider}" if provider else text


def appointment_summary(appointment: AppointmentView, tz: ZoneInfo) -> str:
    """``Fri 2026-12-04 10:00 with Dr. Y, OP2, Cleaning``."""
    parts = [with_provider(appointment.start, appointment.provider_name, tz)]
    parts += [p for p in (appointment.operatory, appointment.reason) if p]
    return ", ".join(parts)


def differences_text(differences: frozenset[Difference]) -> str:
    """``time, provider`` or ``same`` when nothing differs."""
    from linker_tui.matching import Difference  # matching is no part of the first rows

    order = (Difference.DATE, Difference.TIME, Difference.PROVIDER)
    named = [d.value for d in order if d in differences]
    return ", ".join(named) if named else "same"


def state_short(state: RequestState) -> str:
    """A state in one short word, for the list's state column."""
    return _STATE_SHORT[state]


def count(number: int) -> str:
    """``10,000``."""
    return f"{number:,}"


def plural(number: int, word: str) -> str:
    """``1 appointment`` / ``2 appointments``."""
    return f"{number} {word}" if number == 1 else f"{number} {word}s"
