"""The demo practice: every scenario in data/requests_manifest.csv behaves as documented."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.demo import build_demo, demo_data_dir, week_shift
from linker_tui.read.views import MatchKind
from linker_tui.store.db import make_engine, read_session
from linker_tui.store.models import Appointment, OnlineRequest, Patient
from linker_tui.store.schema import create_schema
from tests.conftest import make_workflow

EXACT = {
    "exact_match",
    "hostile_text",
    "email_opt_out",
    "accents_typed",
    "accents_stripped",
    "nickname",
    "brackets_name",
    "family_contact",
    "no_email",
}
PARTIAL = {"other_time", "other_provider"}
NONE = {"cancelled_or_completed", "no_future_appointment", "unknown_person"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    create_schema(engine)
    report = build_demo(engine, demo_data_dir(), date(2026, 11, 27))
    assert report.problems == []
    assert report.patients >= 300 and report.appointments >= 2000 and report.requests >= 30
    yield engine
    engine.dispose()


def _manifest() -> list[dict[str, str]]:
    with (demo_data_dir() / "requests_manifest.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("case", _manifest(), ids=lambda c: f"{c['request_id']}-{c['scenario']}")
def test_scenario(demo: Engine, case: dict[str, str]) -> None:
    with read_session(demo) as s:
        request = s.exec(
            select(OnlineRequest).where(OnlineRequest.external_id == case["request_id"])
        ).one()
        expected_patient = None
        if case["expected_patient_id"]:
            expected_patient = (
                s.exec(select(Patient).where(Patient.pms_id == case["expected_patient_id"]))
                .one()
                .id
            )
        expected_appointment = None
        if case["expected_appointment_id"]:
            expected_appointment = (
                s.exec(
                    select(Appointment).where(Appointment.pms_id == case["expected_appointment_id"])
                )
                .one()
                .id
            )
    assert request.id is not None
    check = make_workflow(demo).check(request.id)
    assert check.patient_id == expected_patient
    offered = [c.appointment.id for c in check.candidates]
    if expected_appointment is not None:
        assert expected_appointment in offered
    if case["scenario"] in EXACT:
        assert check.kind is MatchKind.EXACT and offered[0] == expected_appointment
    elif case["scenario"] in PARTIAL:
        assert check.kind is MatchKind.PARTIAL and offered[0] == expected_appointment
    elif case["scenario"] in NONE:
        assert check.kind is MatchKind.NONE
    elif case["scenario"] == "multiple_future":
        assert len(offered) >= 3


def test_week_shift_keeps_weekdays() -> None:
    assert week_shift(date(2026, 11, 27), date(2026, 11, 27)).days == 0
    assert week_shift(date(2026, 11, 27), date(2027, 1, 7)).days == 35
    assert week_shift(date(2026, 11, 27), date(2025, 1, 1)).days == 0


def test_bundled_demo_data_is_found() -> None:
    assert (demo_data_dir() / "patients.csv").is_file()
    assert len(list((demo_data_dir() / "requests").glob("*.json"))) >= 30
    assert Path(demo_data_dir(), "practice.json").is_file()
