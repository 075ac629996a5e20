"""The one search for the appointments a request may be for: a patient's scheduled ones,
the nearest to the requested time first, at most ``limit`` of them, and how many there
are in all (a placeholder "walk-in" patient may have thousands).

Without narrowing it is two index range reads (``ix_appointment_patient_start``): the
``limit`` nearest from the requested time on, and the ``limit`` nearest before it; their
union, ordered by distance, gives the nearest ``limit``; a count gives the rest. With
staff's narrowing text, every word must occur in what the candidates table shows of an
appointment (weekday, date, month, time in the practice's timezone; provider; chair;
reason), compared without case: the patient's appointments are read as a few plain
columns and filtered here, since the date and time shown depend on the timezone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from linker_tui.store.enums import BOOKABLE_STATUSES
from linker_tui.store.models import Appointment, Provider

CANDIDATE_LIMIT = 20
"""The appointments offered at most (the nearest); the others are counted, and staff
narrow the list by typing."""


@dataclass(frozen=True)
class NearestAppointments:
    """The nearest appointments (with their providers) and how many match in all."""

    rows: tuple[tuple[Appointment, Provider | None], ...]
    """Nearest to the requested time first (ties: the earlier first)."""
    total: int
    """How many of the patient's scheduled appointments match (the narrowing, if any)."""

    @property
    def more(self) -> int:
        """How many match beyond the ones in ``rows``."""
        return max(0, self.total - len(self.rows))


def narrowing_words(text: str) -> tuple[str, ...]:
    """The words of staff's narrowing text, compared without case."""
    return tuple(text.casefold().split())


def shown_text(start: datetime, tz: ZoneInfo, provider: str, chair: str, reason: str) -> str:
    """What the candidates table shows of an appointment, for narrowing: weekday, date,
    month and time in the practice's timezone (``Thu Thursday Dec December 2026-12-03
    03/12 09:30``), provider, chair and reason; in lower case."""
    moment = start.astimezone(tz)
    when = moment.strftime("%a %A %b %B %Y-%m-%d %d/%m %H:%M")
    return f"{when} {provider} {chair} {reason}".casefold()


def nearest_appointments(
    session: Session,
    patient_id: int,
    requested_start: datetime,
    since: datetime,
    tz: ZoneInfo,
    *,
    narrow: str = "",
    limit: int | None = None,
    keep: int | None = None,
) -> NearestAppointments:
    """The patient's scheduled (or confirmed) appointments from ``since`` on that match
    ``narrow``: the ``limit`` nearest to ``requested_start``, and how many match in all.
    ``keep``: an appointment listed too, whatever the narrowing and the limit, while it
    is still one of the patient's scheduled appointments (the one staff chose).
    ``limit``: :data:`CANDIDATE_LIMIT` unless given."""
    limit = CANDIDATE_LIMIT if limit is None else limit
    words = narrowing_words(narrow)
    if words:
        nearest, total = _narrowed(session, patient_id, requested_start, since, tz, words, limit)
    else:
        nearest, total = _nearest(session, patient_id, requested_start, since, limit)
    if keep is not None and keep not in nearest:
        nearest.append(keep)
    rows = _rows(session, patient_id, since, nearest)
    return NearestAppointments(tuple(rows), total)


def _scheduled(patient_id: int, since: datetime) -> list[sa.ColumnElement[bool]]:
    """The conditions of "the patient's scheduled appointments from ``since`` on"."""
    return [
        col(Appointment.patient_id) == patient_id,
        col(Appointment.status).in_(BOOKABLE_STATUSES),
        col(Appointment.start) >= since,
    ]


def _by_distance(found: Iterable[tuple[Any, datetime]], asked: datetime) -> list[int]:
    """The ids of ``(id, start)`` rows, nearest to ``asked`` first (ties: the earlier)."""
    ordered = sorted(found, key=lambda r: (abs(r[1] - asked), r[1], r[0]))
    return [int(pid) for pid, _ in ordered]


def _nearest(
    session: Session, patient_id: int, asked: datetime, since: datetime, limit: int
) -> tuple[list[int], int]:
    """The ``limit`` nearest (two index range reads, one each side) and the count."""
    scheduled = _scheduled(patient_id, since)
    start = col(Appointment.start)
    ids = select(col(Appointment.id), start).where(*scheduled)
    after = session.exec(ids.where(start >= asked).order_by(start).limit(limit)).all()
    before = session.exec(ids.where(start < asked).order_by(start.desc()).limit(limit)).all()
    nearest = _by_distance([*after, *before], asked)[:limit]
    if len(after) < limit and len(before) < limit:
        return nearest, len(after) + len(before)
    total = session.exec(select(sa.func.count()).select_from(Appointment).where(*scheduled)).one()
    return nearest, total


def _narrowed(
    session: Session,
    patient_id: int,
    asked: datetime,
    since: datetime,
    tz: ZoneInfo,
    words: Sequence[str],
    limit: int,
) -> tuple[list[int], int]:
    """The ``limit`` nearest of those whose shown text has every word, and their count."""
    rows = session.execute(
        sa.select(
            col(Appointment.id),
            col(Appointment.start),
            col(Appointment.provider_id),
            col(Appointment.operatory),
            col(Appointment.reason),
        ).where(*_scheduled(patient_id, since))
    ).all()
    names = _provider_names(session, {r[2] for r in rows if r[2] is not None})
    found = [
        (pid, start)
        for pid, start, provider_id, chair, reason in rows
        if _has_words(shown_text(start, tz, names.get(provider_id, ""), chair, reason), words)
    ]
    return _by_distance(found, asked)[:limit], len(found)


def _has_words(text: str, words: Sequence[str]) -> bool:
    return all(word in text for word in words)


def _provider_names(session: Session, ids: set[int]) -> dict[int | None, str]:
    """Each provider's shown name and abbreviation (``Dr. Amelia Chen AC``)."""
    if not ids:
        return {}
    providers = session.exec(select(Provider).where(col(Provider.id).in_(ids))).all()
    return {p.id: f"{p.display_name} {p.abbr}" for p in providers}


def _rows(
    session: Session, patient_id: int, since: datetime, ids: Sequence[int]
) -> list[tuple[Appointment, Provider | None]]:
    """The appointments of ``ids`` that are still the patient's scheduled ones, with
    their providers, in the order of ``ids``."""
    if not ids:
        return []
    found = session.exec(
        select(Appointment, Provider)
        .join(Provider, isouter=True)
        .where(col(Appointment.id).in_(ids), *_scheduled(patient_id, since))
    ).all()
    by_id = {a.id: (a, p) for a, p in found}
    return [by_id[i] for i in ids if i in by_id]
