"""The list's match hint for requests whose patient is not known yet: found, patients to
pick from or confirm ("Is this the same patient?" comes next), or not found."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from linker_tui.queries import ListQuery, request_page
from tests.builders import NOW, TZ, add_appointment, add_patient, add_request, local

FAMILY_PHONE = "416-555-0199"


def _hints(engine: Engine) -> dict[str, str]:
    page = request_page(engine, ListQuery(show_handled=True), 0, TZ, NOW, "CA")
    return {row.typed_name: row.match_hint for row in page.rows}


def test_hints_for_unknown_patients_say_found_possible_or_not_found(engine: Engine) -> None:
    jane = add_patient(engine, "Jane", "Doe", date(1980, 1, 2), email="jane@example.com")
    add_patient(engine, "Samuel", "Lee", date(1990, 3, 4), mobile=FAMILY_PHONE)
    add_patient(engine, "Samantha", "Lee", date(1992, 8, 9), mobile=FAMILY_PHONE)
    add_appointment(engine, jane, None, local(2026, 12, 3, 9, 30))
    start = local(2026, 12, 3, 9, 30)
    # Jane typed her identity exactly, but the request arrived before the PMS had her.
    add_request(engine, "Jane", "Doe", start, birthdate=date(1980, 1, 2), email="jane@example.com")
    add_request(engine, "Sam", "Lee", start, phone=FAMILY_PHONE)
    add_request(engine, "Nobody", "Known", start, birthdate=date(1970, 1, 1))
    add_request(engine, "Jane", "Dough", start, birthdate=date(1980, 1, 2))  # sounds alike
    add_request(engine, "Jane", "Doe", start, patient_id=jane)
    add_request(engine, "Sam", "Lee", start, phone=FAMILY_PHONE, state="rejected")

    hints = _hints(engine)
    page = request_page(engine, ListQuery(show_handled=True), 0, TZ, NOW, "CA")
    by_row = [(row.typed_name, row.state.value, row.match_hint) for row in page.rows]
    assert ("Jane Doe", "pending", "patient found") in by_row
    assert ("Jane Doe", "pending", "exact match") in by_row
    assert ("Sam Lee", "pending", "pick patient (2)") in by_row
    # Handled requests are not looked up again.
    assert ("Sam Lee", "rejected", "patient not found") in by_row
    assert hints["Nobody Known"] == "patient not found"
    assert hints["Jane Dough"] == "confirm patient"
