"""Matching a whole list at once (``rank_requests``) gives the rankings of one request at a
time (``rank_request``; the same candidate search, in chunks and blocks of any size)."""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.cli.match import match_requests
from linker_tui.ingest.pms_export import PatientRow
from linker_tui.matching import MatchLevel, TypedIdentity, candidates, patient_search
from linker_tui.matching.patient_search import (
    rank_request,
    rank_requests,
    rank_typed,
    rank_typed_many,
)
from linker_tui.store.db import read_session
from linker_tui.store.models import OnlineRequest
from tests.builders import add_request, local
from tests.matching_eval.evaluate import HERE
from tests.matching_eval.evaluate import _patients as eval_patients
from tests.sync_support import load_patients


def _row(n: int, first: str, last: str, born: date | None, **kw: str) -> PatientRow:
    return PatientRow(
        pms_id=f"B{n}",
        last_name=last,
        first_name=first,
        preferred_name=kw.get("preferred", ""),
        birthdate=born,
        email=kw.get("email", ""),
        phone_home=kw.get("phone", ""),
        phone_mobile=kw.get("mobile", ""),
        guarantor_pms_id="",
        no_email=False,
    )


def _patients() -> list[PatientRow]:
    rows = [
        _row(1, "William", "Hart", date(1980, 4, 2), email="hart@example.com", phone="4165550101"),
        _row(2, "Emma", "Hart", date(2015, 6, 1), email="hart@example.com", phone="4165550101"),
        _row(3, "Zoë", "Lefèvre-Côté", date(1991, 2, 3), email="zoe@example.com"),
        _row(4, "Maria", "De la Cruz", date(1975, 11, 5), preferred="Mary"),
        _row(5, "Robert", "Thompson", date(1966, 3, 9), mobile="+33 1 42 68 53 00"),
        _row(6, "Margaret", "O'Neil", None, email="peggy.oneil@gmail.com"),
        _row(7, "Jean-Luc", "Tremblay", date(1988, 8, 1), phone="514 555 0199"),
        _row(8, "Ann", "Lee", date(1980, 2, 4)),
        _row(9, "Anne", "Lee", date(1980, 4, 2)),
    ]
    # a number the clinic uses as a placeholder (more than the cap), a very common surname
    rows += [
        _row(100 + i, f"Kid{chr(97 + i % 26)}", "Placeholder", None, phone="0000000000")
        for i in range(60)
    ]
    rows += [
        _row(200 + i, f"{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}name", "Smith",
             date(1950, 1, 1) + timedelta(days=i * 37), email="smiths@example.com")
        for i in range(230)
    ]  # fmt: skip
    return rows


TYPED = [
    TypedIdentity("Bill", "Hart", date(1980, 4, 2), "", "416 555 0101"),
    TypedIdentity("Wiliam", "Hart", date(1980, 4, 2)),
    TypedIdentity("Hart", "Emma", date(2015, 6, 1)),
    TypedIdentity("Zoe", "Cote", date(1991, 2, 3)),
    TypedIdentity("Zoe", "Lefevre Cote", date(1991, 3, 2)),
    TypedIdentity("Mary", "Cruz", None),
    TypedIdentity("Maria", "Delacruz", date(1975, 11, 5)),
    TypedIdentity("Bob", "Tomphson", None, "", "+33 1 42 68 53 00"),
    TypedIdentity("Peggy", "Oneil", None, "Peggy.ONeil+dentist@googlemail.com"),
    TypedIdentity("Jean", "Tremblay", None, "", "(514) 555-0199"),
    TypedIdentity("Ann", "Lee", date(1980, 4, 2)),
    TypedIdentity("", "Smith"),  # a surname alone: at most 200 of its patients
    TypedIdentity("Abname", "Smith", None, "smiths@example.com"),
    TypedIdentity("Ab", "Smith", None),
    TypedIdentity("Kida", "Placeholder", None, "", "000-000-0000"),
    TypedIdentity("Nobody", "Unknown", date(2001, 1, 1), "nobody@example.net", "4165559999"),
    TypedIdentity("", "", date(1980, 4, 2)),  # no name
    TypedIdentity("", ""),  # nothing at all
    TypedIdentity("Lee", "", None),
]


def test_batch_ranks_as_one_at_a_time(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    load_patients(engine, _patients())
    # small chunks and blocks, to go through every chunking and block boundary
    monkeypatch.setattr(candidates, "_MAX_PARAMS", 6)
    monkeypatch.setattr(patient_search, "BATCH_REQUESTS", 7)
    typed = TYPED * 2
    with read_session(engine) as session:
        single = [rank_typed(session, t) for t in typed]
        batch = rank_typed_many(session, typed)
    assert batch == single
    levels = {r.level for r in batch}
    assert levels == {MatchLevel.EXACT, MatchLevel.POSSIBLE, MatchLevel.NONE}
    assert len(batch[11].candidates) == 10  # the surname alone
    assert batch[0].patient_id is not None


def test_batch_on_the_evaluation_set(sqlite_engine: Engine) -> None:
    load_patients(sqlite_engine, eval_patients())
    with (HERE / "cases.csv").open(encoding="utf-8") as handle:
        typed = [
            TypedIdentity(
                c["first_name"],
                c["last_name"],
                date.fromisoformat(c["birthdate"]) if c["birthdate"] else None,
                c["email"],
                c["phone"],
            )
            for c in csv.DictReader(handle)
        ]
    with read_session(sqlite_engine) as session:
        assert rank_typed_many(session, typed) == [rank_typed(session, t) for t in typed]


def test_match_command_and_requests_use_the_batch(engine: Engine) -> None:
    load_patients(engine, _patients())
    start = local(2026, 12, 1, 9)
    for t in TYPED[:6]:
        add_request(engine, t.first_name, t.last_name, start, birthdate=t.birthdate, phone=t.phone)
    with read_session(engine) as session:
        requests = session.exec(select(OnlineRequest).order_by(OnlineRequest.id)).all()  # type: ignore[arg-type]
        expected = [rank_request(session, r) for r in requests]
        assert rank_requests(session, requests) == expected
    found = dict((r.external_id, ranking) for r, ranking in match_requests(engine, "CA"))
    assert [found[r.external_id] for r in requests] == expected


def test_empty_list(sqlite_engine: Engine) -> None:
    with read_session(sqlite_engine) as session:
        assert rank_requests(session, []) == []
