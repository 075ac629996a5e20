"""Every malformed request file goes to ``rejected/`` with its reason; the others are
imported, and the inbox step never fails (issue 13)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from linker_tui.store.db import read_session
from linker_tui.store.models import OnlineRequest
from tests.sync_support import drop_request, fhir_request, make_sync


def _patient(**changes: Any) -> dict[str, Any]:
    resource = fhir_request("X")
    contained = resource["contained"]
    assert isinstance(contained, list)
    return {"contained": [{**contained[0], **changes}]}


def _bad_files() -> dict[str, bytes]:
    def doc(**changes: Any) -> bytes:
        return json.dumps(fhir_request("BAD", **changes)).encode()

    return {
        "telecom.json": doc(**_patient(telecom=3)),
        "participant.json": doc(participant=["x"]),
        "period-object.json": doc(requestedPeriod={"start": "2026-12-03T09:30:00-05:00"}),
        "contained-number.json": doc(contained=3),
        "year-9999.json": doc(requestedPeriod=[{"start": "9999-12-31T23:00:00-05:00"}]),
        "year-1.json": doc(requestedPeriod=[{"start": "0001-01-01T00:00:00+14:00"}]),
        "created-year-1.json": doc(created="0001-01-01T00:00:00+14:00"),
        "surrogate.json": doc().replace(b'"Hart"', b'"H\\ud800art"'),
        "deep.json": b"[" * 200_000 + b"]" * 200_000,
        "latin1.json": doc().replace(b'"Hart"', b'"H\xe9rt"'),
        "empty.json": b"",
        "null.json": b"null",
        "id-number.json": doc(id=7),
        "name-object.json": doc(**_patient(name={"family": "Hart"})),
        "birthdate.json": doc(**_patient(birthDate="1980-02-31")),
    }


def test_every_malformed_file_is_rejected_and_the_others_imported(
    engine: Engine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    drop_request(inbox, "good-1.json", fhir_request("G1"))
    for name, data in _bad_files().items():
        path = inbox / name
        path.write_bytes(data)
        os.utime(path, (path.stat().st_mtime - 60,) * 2)
    drop_request(inbox, "good-2.json", fhir_request("G2", "Ava", "Brown"))
    summary = make_sync(engine, None, inbox).run()
    assert summary.ok, summary.text()
    assert summary.requests_imported == 2
    rejected = inbox / "rejected"
    for name in _bad_files():
        assert (rejected / name).exists(), name
        reason = (rejected / f"{name}.reason.txt").read_text("utf-8").strip()
        assert reason and "\n" not in reason, name
    assert sorted(p.name for p in inbox.glob("*.json")) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("telecom.json", "contained Patient: telecom: Input should be a valid list"),
        ("participant.json", "participant.0: Input should be an object"),
        ("period-object.json", "requestedPeriod: Input should be a valid array"),
        ("contained-number.json", "contained: Input should be a valid array"),
        ("year-9999.json", "the year is outside 1800-2999"),
        ("year-1.json", "the year is outside 1800-2999"),
        ("surrogate.json", "not JSON"),
        ("deep.json", "not JSON: recursion limit exceeded"),
        ("latin1.json", "not JSON"),
        ("empty.json", "the file is empty"),
        ("id-number.json", "id: Input should be a valid string"),
    ],
)
def test_the_reason_says_what_is_wrong(
    sqlite_engine: Engine, tmp_path: Path, name: str, expected: str
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / name
    path.write_bytes(_bad_files()[name])
    os.utime(path, (path.stat().st_mtime - 60,) * 2)
    assert make_sync(sqlite_engine, None, inbox).run().ok
    assert expected in (inbox / "rejected" / f"{name}.reason.txt").read_text("utf-8")


def test_nul_characters_in_a_request_are_dropped(engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL refuses NUL in text: dropped at the boundary, the request imported."""
    inbox = tmp_path / "inbox"
    drop_request(inbox, "r.json", fhir_request("R\u00001", "Bi\u0000ll", comment="a\u0000b"))
    summary = make_sync(engine, None, inbox).run()
    assert summary.ok and summary.requests_imported == 1, summary.text()
    with read_session(engine) as s:
        request = s.exec(select(OnlineRequest)).one()
    assert (request.external_id, request.typed_first_name, request.note) == ("R1", "Bill", "ab")


def test_inbox_folders_and_filed_requests_are_private(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    drop_request(inbox, "good.json", fhir_request("G1"))
    drop_request(inbox, "bad.json", "{")
    (inbox / "good.json").chmod(0o644)
    (inbox / "bad.json").chmod(0o644)
    old = os.umask(0o022)
    try:
        assert make_sync(sqlite_engine, None, inbox).run().ok
    finally:
        os.umask(old)
    for sub in ("processed", "rejected"):
        assert stat.S_IMODE((inbox / sub).stat().st_mode) == 0o700
    for path in [*(inbox / "processed").iterdir(), *(inbox / "rejected").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
