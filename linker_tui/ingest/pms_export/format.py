"""The export's format: its files and their columns, the status table, and
:class:`ExportFormat` (how a practice's export writes dates, times and statuses).

The column layout, date formats and status words are documented in ``docs/sync.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from linker_tui.settings.config import IGNORE

PROVIDERS_FILE, PATIENTS_FILE, APPOINTMENTS_FILE = (
    "providers.csv",
    "patients.csv",
    "appointments.csv",
)
#: The id column of each file.
ID_COLUMNS = {
    PROVIDERS_FILE: "provider_id",
    PATIENTS_FILE: "patient_id",
    APPOINTMENTS_FILE: "appointment_id",
}
#: Columns a file must have (the others are optional).
REQUIRED_COLUMNS = {
    PROVIDERS_FILE: ("provider_id",),
    PATIENTS_FILE: ("patient_id", "last_name"),
    APPOINTMENTS_FILE: ("appointment_id", "patient_id", "start", "status"),
}

#: A status word mapped to this is not an appointment (e.g. Open Dental's patient notes):
#: the row is skipped without a problem.

#: Status words of common PMSs → linker_tui's statuses. Keys are compared without case,
#: spaces, ``-`` or ``_`` (``"No Show"`` = ``noshow``). The ``sync_status_map`` setting adds
#: or overrides entries.
DEFAULT_STATUS_MAP: dict[str, str] = {
    # linker_tui's own words
    "scheduled": "scheduled",
    "confirmed": "confirmed",
    "completed": "completed",
    "cancelled": "cancelled",
    "broken": "broken",
    "unscheduled": "unscheduled",
    # common PMS words (Open Dental, Dentrix, Eaglesoft, ABELDent, FHIR)
    "sched": "scheduled",
    "booked": "scheduled",
    "pending": "scheduled",
    "active": "scheduled",
    "conf": "confirmed",
    "arrived": "confirmed",
    "checkedin": "confirmed",
    "inchair": "confirmed",
    "complete": "completed",
    "done": "completed",
    "fulfilled": "completed",
    "checkedout": "completed",
    "canceled": "cancelled",
    "cancel": "cancelled",
    "deleted": "cancelled",
    "enteredinerror": "cancelled",
    "noshow": "broken",
    "failed": "broken",
    "missed": "broken",
    "unschedlist": "unscheduled",
    "unsched": "unscheduled",
    "asap": "unscheduled",
    "waitlist": "unscheduled",
    "planned": "unscheduled",
    "ptnote": IGNORE,
    "ptnotecompleted": IGNORE,
    # Open Dental's appointment.AptStatus numbers
    "1": "scheduled",
    "2": "completed",
    "3": "unscheduled",
    "5": "broken",
    "6": "unscheduled",
    "7": IGNORE,
    "8": IGNORE,
}


def status_word(text: str) -> str:
    """A status word as the status table compares it: ``"Unsched List"`` → ``unschedlist``."""
    return "".join(ch for ch in text.casefold() if ch not in " -_\t")


@dataclass(frozen=True)
class ExportFormat:
    """How to read an export: timezone of naive times, date formats, the status table.

    ``date_format`` / ``datetime_format`` are ``strptime`` formats tried before ISO 8601
    (empty: ISO 8601 only). ``shift`` moves every appointment start (the demo).
    """

    tz: ZoneInfo
    shift: timedelta = timedelta(0)
    date_format: str = ""
    datetime_format: str = ""
    status_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUS_MAP))

    @classmethod
    def with_statuses(
        cls,
        tz: ZoneInfo,
        extra_statuses: Mapping[str, str] | None = None,
        **options: object,
    ) -> ExportFormat:
        """The default status table with ``extra_statuses`` added or overriding."""
        table = dict(DEFAULT_STATUS_MAP)
        for word, target in (extra_statuses or {}).items():
            table[status_word(word)] = target.strip().lower()
        return cls(tz, status_map=table, **options)  # type: ignore[arg-type]

    def fingerprint(self) -> bytes:
        """Changes whenever a setting would read the same text differently."""
        text = json.dumps(
            [
                str(self.tz),
                self.shift.total_seconds(),
                self.date_format,
                self.datetime_format,
                sorted(self.status_map.items()),
            ]
        )
        return hashlib.sha256(text.encode()).digest()
