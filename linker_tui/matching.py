"""Pure functions: which patient a request belongs to, and which of their appointments
could be the one the request asks for."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from linker_tui.text import casefold_ascii

_NON_NAME = re.compile(r"[^a-z0-9 ]+")


def name_key(name: str) -> str:
    """Normalise a name for comparison: no case, accents, punctuation or extra spaces."""
    folded = casefold_ascii(name).replace("-", " ").replace("'", "")
    return " ".join(_NON_NAME.sub(" ", folded).split())


def phone_key(phone: str) -> str:
    """Digits of a North-American phone number without the leading country code."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def email_key(email: str) -> str:
    """An email address compared case-insensitively."""
    return email.strip().casefold()


@dataclass(frozen=True)
class TypedIdentity:
    """What a person typed into the booking form."""

    first_name: str
    last_name: str
    birthdate: date | None = None
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class PatientRecord:
    """The fields of a PMS patient that matching looks at."""

    id: int
    first_name: str
    last_name: str
    preferred_name: str = ""
    birthdate: date | None = None
    email: str = ""
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatientMatch:
    """The patient a request belongs to (``patient_id``), or why none was chosen."""

    patient_id: int | None
    explanation: str


def _first_names(patient: PatientRecord) -> set[str]:
    return {name_key(n) for n in (patient.first_name, patient.preferred_name) if n.strip()}


def match_patient(typed: TypedIdentity, patients: Iterable[PatientRecord]) -> PatientMatch:
    """Choose the one patient whose name agrees and whose birth date or contact confirms it.

    The name (first or preferred, and last) must agree. Among those, an equal birth date
    decides; without a typed birth date, an email or phone that only one of them has
    decides. Contact details alone never decide (families share them), and two equally
    good patients give no match rather than a guess.
    """
    first, last = name_key(typed.first_name), name_key(typed.last_name)
    if not first or not last:
        return PatientMatch(None, "no name was typed")
    named = [p for p in patients if name_key(p.last_name) == last and first in _first_names(p)]
    if not named:
        return PatientMatch(None, "no patient with this name")
    if typed.birthdate is not None:
        born = [p for p in named if p.birthdate == typed.birthdate]
        if len(born) == 1:
            return PatientMatch(born[0].id, "name and birth date agree")
        if len(born) > 1:
            return PatientMatch(None, f"{len(born)} patients share this name and birth date")
        if any(p.birthdate is not None for p in named):
            return PatientMatch(None, "a patient has this name but another birth date")
    contact = [p for p in named if _contact_agrees(typed, p)]
    if len(contact) == 1:
        return PatientMatch(contact[0].id, "name and contact details agree")
    if len(contact) > 1:
        return PatientMatch(None, f"{len(contact)} patients share this name and contact")
    return PatientMatch(None, "a patient has this name but nothing else agrees")


def _contact_agrees(typed: TypedIdentity, patient: PatientRecord) -> bool:
    email = email_key(typed.email)
    if email and email == email_key(patient.email):
        return True
    phone = phone_key(typed.phone)
    return bool(phone) and phone in {phone_key(p) for p in patient.phones if p}


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
