"""The one appointment search (matching.appointment_search): the nearest first, a limit and
a count, staff's narrowing, the appointment staff chose kept; SQLite file and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from linker_tui.matching.appointment_search import (
    NearestAppointments,
    nearest_appointments,
    shown_text,
)
from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import AppointmentStatus
from linker_tui.store.models import Appointment
from tests.builders import TZ, add_patient, add_provider, local

TODAY = local(2026, 11, 27, 0, 0)
ASKED = local(2027, 3, 10, 9, 30)


def _walk_in(engine: Engine, days: int = 300) -> tuple[int, dict[str, int], dict[datetime, int]]:
    """A walk-in patient with an appointment every day at 09:00 and 14:30 (Dr. Chen and
    the hygienist), some cancelled, some in the past."""
    chen = add_provider(engine, "DC", "Amelia", "Chen")
    hyg = add_provider(engine, "HY", "Jordan", "Blake", title="RDH")
    patient = add_patient(engine, "Walk", "In")
    ids: dict[datetime, int] = {}
    numbers = itertools.count(1)
    with write_session(engine) as s:
        for day in range(-10, days):
            for hour, minute, provider, chair in ((9, 0, chen, "OP1"), (14, 30, hyg, "HYG2")):
                start = TODAY + timedelta(days=day, hours=hour, minutes=minute)
                status = (
                    AppointmentStatus.CANCELLED
                    if day % 7 == 3 and hour == 9
                    else AppointmentStatus.SCHEDULED
                )
                appointment = Appointment(
                    pms_id=f"W{next(numbers)}",
                    patient_id=patient,
                    provider_id=provider,
                    start=start,
                    operatory=chair,
                    reason="Emergency" if day % 10 == 0 else "Walk-in",
                    status=status,
                )
                s.add(appointment)
                s.flush()
                assert appointment.id is not None
                if status == "scheduled" and day >= 0:
                    ids[start] = appointment.id
    return patient, {"chen": chen, "hyg": hyg}, ids


def _search(engine: Engine, patient: int, **kw: object) -> NearestAppointments:
    with read_session(engine) as s:
        return nearest_appointments(s, patient, ASKED, TODAY, TZ, **kw)  # type: ignore[arg-type]


def _starts(found: NearestAppointments) -> list[datetime]:
    return [a.start.astimezone(TZ) for a, _ in found.rows]


def test_the_nearest_first_at_most_the_limit_and_a_count(engine: Engine) -> None:
    patient, _, ids = _walk_in(engine)
    found = _search(engine, patient, limit=5)
    assert found.total == len(ids)  # scheduled, from today on; not cancelled or past
    assert found.more == len(ids) - 5
    assert _starts(found) == sorted(ids, key=lambda t: (abs(t - ASKED), t))[:5]
    assert _starts(found)[:2] == [local(2027, 3, 10, 9, 0), local(2027, 3, 10, 14, 30)]
    a, provider = found.rows[0]
    assert a.id == ids[local(2027, 3, 10, 9, 0)] and provider is not None
    assert provider.display_name == "Dr. Amelia Chen"


def test_few_appointments_are_all_listed_and_counted(engine: Engine) -> None:
    patient, _, ids = _walk_in(engine, days=3)
    found = _search(engine, patient, limit=20)
    assert found.total == len(ids) == 6 and found.more == 0
    assert sorted(_starts(found)) == sorted(ids)
    # a request in the past: every appointment is after it, the earliest first
    with read_session(engine) as s:
        early = nearest_appointments(s, patient, TODAY - timedelta(days=30), TODAY, TZ)
    assert _starts(early) == sorted(ids)


def test_narrowing_by_date_time_weekday_provider_chair_reason(engine: Engine) -> None:
    patient, _, ids = _walk_in(engine)
    by_date = _search(engine, patient, narrow="2027-04-02")
    assert _starts(by_date) == [local(2027, 4, 2, 9, 0), local(2027, 4, 2, 14, 30)]
    assert by_date.total == 2 and by_date.more == 0
    month = _search(engine, patient, narrow="  APRIL 14:30 ", limit=3)
    assert month.total == 30 and month.more == 27
    assert _starts(month) == [local(2027, 4, d, 14, 30) for d in (1, 2, 3)]
    weekday = _search(engine, patient, narrow="fri blake", limit=2)
    assert _starts(weekday) == [local(2027, 3, 12, 14, 30), local(2027, 3, 5, 14, 30)]
    assert all(t.weekday() == 4 and t.hour == 14 for t in _starts(weekday))
    chair = _search(engine, patient, narrow="op1 emergency")
    assert {t.hour for t in _starts(chair)} == {9} and chair.total == 30 - 5  # cancelled
    assert (
        _search(engine, patient, narrow="9:00 2027-03-10").rows[0][0].id
        == ids[local(2027, 3, 10, 9, 0)]
    )
    nothing = _search(engine, patient, narrow="chen 14:30")
    assert nothing.rows == () and nothing.total == 0


def test_the_chosen_appointment_is_kept_while_it_is_scheduled(engine: Engine) -> None:
    patient, _, ids = _walk_in(engine)
    far = ids[local(2027, 9, 1, 14, 30)]
    found = _search(engine, patient, limit=3, keep=far)
    assert [a.id for a, _ in found.rows][3:] == [far] and len(found.rows) == 4
    narrowed = _search(engine, patient, narrow="2027-03-10", keep=far)
    assert narrowed.rows[-1][0].id == far
    with write_session(engine) as s:
        appointment = s.get(Appointment, far)
        assert appointment is not None
        appointment.status = AppointmentStatus.CANCELLED
        s.add(appointment)
    assert far not in [a.id for a, _ in _search(engine, patient, keep=far).rows]


def test_an_appointment_kept_is_listed_only_while_it_is_one_of_the_patients_scheduled(
    engine: Engine,
) -> None:
    # the kept appointment is read by id: the patient, the status and the day still count
    patient, providers, ids = _walk_in(engine, days=20)
    other = add_patient(engine, "Mia", "Roy")
    with write_session(engine) as s:
        theirs = Appointment(
            pms_id="M1",
            patient_id=other,
            provider_id=providers["chen"],
            start=ASKED,
            status=AppointmentStatus.SCHEDULED,
        )
        past = s.get(Appointment, min(ids.values()) - 2)  # yesterday's, still scheduled
        assert past is not None and past.start < TODAY
        confirmed = s.get(Appointment, min(ids.values()))  # today's, the farthest
        assert confirmed is not None
        confirmed.status = AppointmentStatus.CONFIRMED
        s.add_all([theirs, confirmed])
        s.flush()
        theirs_id, past_id, confirmed_id = theirs.id, past.id, confirmed.id
    for gone in (theirs_id, past_id):
        listed = [a.id for a, _ in _search(engine, patient, limit=3, keep=gone).rows]
        assert gone not in listed and len(listed) == 3
    listed = [a.id for a, _ in _search(engine, patient, limit=3, keep=confirmed_id).rows]
    assert listed[3:] == [confirmed_id]


def test_shown_text_is_in_the_practice_timezone() -> None:
    # 23:30 in Toronto is the next day in UTC: the text is the practice's day
    text = shown_text(local(2026, 12, 3, 23, 30), TZ, "Dr. Amelia Chen DC", "OP1", "Cleaning")
    assert text == (
        "thu thursday dec december 2026-12-03 03/12 23:30 dr. amelia chen dc op1 cleaning"
    )
