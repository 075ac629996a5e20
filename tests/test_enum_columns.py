"""The status and state columns are typed by their enums: read back as members, stored as
the same plain values as before (the migrations' ``VARCHAR(16)``), so no data changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import AppointmentStatus, RequestState
from linker_tui.store.models import Appointment, OnlineRequest
from linker_tui.store.schema import schema_differences
from tests.builders import NOW, add_appointment, add_patient, add_request


def test_a_state_is_read_as_its_enum_and_stored_as_its_value(engine: Engine) -> None:
    request_id = add_request(engine, "Ana", "Roy", NOW, state=RequestState.WAITING_PMS)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT state FROM online_request WHERE id = :id"), {"id": request_id}
        ).scalar_one()
    assert stored == "waiting_pms"
    assert type(stored) is str
    with read_session(engine) as session:
        request = session.get(OnlineRequest, request_id)
        assert request is not None
        assert request.state is RequestState.WAITING_PMS


def test_a_value_written_by_plain_sql_reads_as_the_enum(engine: Engine) -> None:
    """The PostgreSQL trail functions and the bulk sync write plain strings."""
    patient = add_patient(engine, "Ana", "Roy")
    appointment_id = add_appointment(engine, patient, None, NOW)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE appointment SET status = 'broken' WHERE id = :id"),
            {"id": appointment_id},
        )
    with read_session(engine) as session:
        statuses = session.exec(select(Appointment.status)).all()
    assert statuses == [AppointmentStatus.BROKEN]


def test_a_value_the_enum_does_not_know_is_refused(engine: Engine) -> None:
    """Written: refused before it reaches the database; read: raises (never a bare str)."""
    with pytest.raises(sa.exc.StatementError, match="not among"), write_session(engine) as session:
        session.add(
            OnlineRequest(external_id="X", received_at=NOW, requested_start=NOW, state="bogus")  # type: ignore[arg-type]
        )
    with read_session(engine) as session:
        assert session.exec(select(OnlineRequest)).all() == []


def test_the_typed_columns_match_the_migrated_schema(engine: Engine) -> None:
    """The migrations' schema is what the models say (no migration needed for the types)."""
    assert schema_differences(engine) == []


def test_an_unknown_stored_value_is_not_read_as_a_string(engine: Engine) -> None:
    request_id = add_request(engine, "Ana", "Roy", NOW)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE online_request SET state = 'bogus' WHERE id = :id"), {"id": request_id}
        )
    with pytest.raises(LookupError), read_session(engine) as session:
        session.get(OnlineRequest, request_id)
