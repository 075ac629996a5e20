"""Which of a patient's appointments could be the one a request asks for (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Difference(StrEnum):
    """What about a scheduled appointment differs from the request."""

    DATE = "date"
    TIME = "time"
    PROVIDER = "provider"


@dataclass(frozen=True)
class AppointmentFacts:
    """The fields of an appointment that ranking looks at."""

    id: int
    start: datetime
    provider_id: int | None


@dataclass(frozen=True)
class Candidate:
    """A scheduled appointment offered for a request, with what differs."""

    appointment_id: int
    distance: timedelta
    differences: frozenset[Difference] = field(default_factory=frozenset)

    @property
    def exact(self) -> bool:
        """Same date, time and (if one was asked for) provider."""
        return not self.differences


def differences(
    requested_start: datetime,
    requested_provider_id: int | None,
    appointment: AppointmentFacts,
    tz: ZoneInfo,
) -> frozenset[Difference]:
    """Which of date, time and provider differ, judged in the practice's timezone."""
    asked, booked = requested_start.astimezone(tz), appointment.start.astimezone(tz)
    found: set[Difference] = set()
    if asked.date() != booked.date():
        found.add(Difference.DATE)
    if asked.time() != booked.time():
        found.add(Difference.TIME)
    if requested_provider_id is not None and appointment.provider_id != requested_provider_id:
        found.add(Difference.PROVIDER)
    return frozenset(found)


def rank_candidates(
    requested_start: datetime,
    requested_provider_id: int | None,
    appointments: Sequence[AppointmentFacts],
    tz: ZoneInfo,
) -> list[Candidate]:
    """All given appointments, closest to the requested time first (exact ones lead)."""
    candidates = [
        Candidate(
            appointment_id=a.id,
            distance=abs(a.start - requested_start),
            differences=differences(requested_start, requested_provider_id, a, tz),
        )
        for a in appointments
    ]
    candidates.sort(key=lambda c: (not c.exact, c.distance, len(c.differences)))
    return candidates
