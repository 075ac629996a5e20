"""Pure functions: cleaning untrusted text, normalising names, matching and ranking."""

from __future__ import annotations

from datetime import date, timedelta

from linker_tui.common.text import clean
from linker_tui.matching import (
    AppointmentFacts,
    Difference,
    PatientRecord,
    TypedIdentity,
    name_key,
    phone_key,
    rank_candidates,
    rank_patients,
)
from tests.builders import TZ, local


def test_clean_strips_control_characters_but_keeps_the_literal_text() -> None:
    assert clean("\x1b[31mred\x1b[0m") == "[31mred[0m"
    assert clean("a\x9b2Jb\x07c\x00d") == "a2Jbcd"
    assert clean("tab\tand\nnewline") == "tab\tand\nnewline"
    assert clean("tab\tand\nnewline", single_line=True) == "tab and newline"
    assert clean("[@click=app.quit]x[/]") == "[@click=app.quit]x[/]"
    assert clean("evil\u202eeman") == "evileman"
    assert clean(None) == ""


def test_name_and_phone_keys() -> None:
    assert name_key("  Zoë  Lefèvre-Côté ") == "zoe lefevre cote"
    assert name_key("O'Brien") == "obrien"
    assert name_key("[Test] Max") == "test max"
    assert phone_key("+1 (416) 555-0134") == "4165550134"
    assert phone_key("416.555.0134") == "4165550134"


def _p(pid: int, first: str, last: str, born: date | None, **kw: object) -> PatientRecord:
    return PatientRecord(id=pid, first_name=first, last_name=last, birthdate=born, **kw)  # type: ignore[arg-type]


FAMILY = [
    _p(
        1,
        "William",
        "Hart",
        date(1980, 4, 2),
        preferred_name="Bill",
        email="hart@example.com",
        phones=("416-555-0101",),
    ),
    _p(2, "Emma", "Hart", date(2015, 6, 1), email="hart@example.com", phones=("416-555-0101",)),
    _p(3, "Noah", "Hart", date(2015, 6, 1), email="hart@example.com", phones=("416-555-0101",)),
    _p(4, "Zoë", "Lefèvre", date(1991, 2, 3), email="zoe@example.com"),
    _p(5, "John", "Smith", date(1970, 1, 1), email="js1@example.com"),
    _p(6, "John", "Smith", date(1985, 5, 5), email="js2@example.com"),
]


def test_name_and_birthdate_decide() -> None:
    typed = TypedIdentity("Emma", "Hart", date(2015, 6, 1), "hart@example.com", "4165550101")
    assert rank_patients(typed, FAMILY).patient_id == 2


def test_nickname_in_preferred_name_and_accents_are_matched() -> None:
    assert rank_patients(TypedIdentity("Bill", "Hart", date(1980, 4, 2)), FAMILY).patient_id == 1
    assert rank_patients(TypedIdentity("zoe", "LEFEVRE", date(1991, 2, 3)), FAMILY).patient_id == 4


def test_shared_family_contact_never_decides_alone() -> None:
    typed = TypedIdentity("Olivia", "Hart", None, "hart@example.com", "416 555 0101")
    match = rank_patients(typed, FAMILY)
    assert match.patient_id is None and "no patient with this name" in match.explanation


def test_same_name_needs_birthdate_or_unique_contact() -> None:
    assert rank_patients(TypedIdentity("John", "Smith"), FAMILY).patient_id is None
    by_email = TypedIdentity("John", "Smith", email="JS2@example.com")
    assert rank_patients(by_email, FAMILY).patient_id == 6
    wrong_birthdate = TypedIdentity("John", "Smith", date(1999, 9, 9), "js2@example.com")
    assert rank_patients(wrong_birthdate, FAMILY).patient_id is None


def test_twins_with_same_name_and_birthdate_are_not_guessed() -> None:
    twins = [*FAMILY, _p(7, "Emma", "Hart", date(2015, 6, 1))]
    match = rank_patients(TypedIdentity("Emma", "Hart", date(2015, 6, 1)), twins)
    assert match.patient_id is None and "2 patients" in match.explanation


def test_ranking_puts_exact_first_then_closest() -> None:
    asked = local(2026, 12, 3, 9, 30)
    appointments = [
        AppointmentFacts(1, local(2026, 12, 20, 9, 30), 1),
        AppointmentFacts(2, local(2026, 12, 3, 10, 0), 1),
        AppointmentFacts(3, local(2026, 12, 3, 9, 30), 1),
        AppointmentFacts(4, local(2026, 12, 2, 9, 30), 2),
    ]
    ranked = rank_candidates(asked, 1, appointments, TZ)
    assert [c.appointment_id for c in ranked] == [3, 2, 4, 1]
    assert ranked[0].exact and ranked[0].distance == timedelta(0)
    assert ranked[1].differences == {Difference.TIME}
    assert ranked[2].differences == {Difference.DATE, Difference.PROVIDER}


def test_differences_are_judged_in_the_practice_timezone() -> None:
    # 23:30 local on Dec 3 is already Dec 4 in UTC: same local date, so no DATE difference.
    asked = local(2026, 12, 3, 23, 30)
    same_day = AppointmentFacts(1, local(2026, 12, 3, 8, 0), None)
    assert rank_candidates(asked, None, [same_day], TZ)[0].differences == {Difference.TIME}
