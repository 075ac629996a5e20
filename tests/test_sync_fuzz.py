"""Property tests (Hypothesis): whatever bytes the PMS export or the inbox holds, no sync
step fails on an internal exception, every valid row or request is imported, and every
bad one is reported with its file and line or moved to ``rejected/`` (issue 13)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from linker_tui.store.db import make_engine
from linker_tui.store.schema import create_schema
from linker_tui.sync.queries import sync_problems
from tests.sync_support import (
    appointment,
    appointments_by_pms_id,
    drop_request,
    fhir_request,
    make_sync,
    sample,
)

_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_FILES = ("providers.csv", "patients.csv", "appointments.csv")


@contextmanager
def _database() -> Iterator[tuple[Engine, Path]]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/fuzz.db")
        create_schema(engine)
        try:
            yield engine, Path(folder)
        finally:
            engine.dispose()


def _age(path: Path) -> None:
    old = path.stat().st_mtime - 60
    os.utime(path, (old, old))


@_SETTINGS
@given(st.sampled_from(_FILES), st.binary(max_size=600), st.booleans())
def test_any_bytes_in_an_export_file_never_fail_the_run(
    name: str, data: bytes, append: bool
) -> None:
    with _database() as (engine, folder):
        export = sample().write(folder / "export")
        sync = make_sync(engine, export)
        assert sync.run().ok
        path = export / name
        path.write_bytes(path.read_bytes() + data if append else data)
        summary = sync.run()
        assert summary.ok, summary.text()
        assert summary.run_id is not None
        for problem in sync_problems(engine, summary.run_id):
            assert problem.file in _FILES and problem.line >= 0 and problem.reason


_GARBAGE = st.binary(max_size=40).map(
    lambda raw: raw.replace(b",", b"").replace(b'"', b"").replace(b"\n", b"").replace(b"\r", b"")
)


@_SETTINGS
@given(st.lists(st.tuples(st.booleans(), _GARBAGE), min_size=1, max_size=30))
def test_every_valid_row_is_imported_and_every_bad_line_reported(
    lines: list[tuple[bool, bytes]],
) -> None:
    """Valid appointment rows mixed with lines of any bytes (no comma, quote or line
    break, so each is one record): the valid rows are imported, each other line is a
    problem at its line, and nothing is cancelled."""
    data = sample()
    with _database() as (engine, folder):
        export = data.write(folder / "export")
        sync = make_sync(engine, export)
        assert sync.run().ok
        body = [(export / "appointments.csv").read_bytes().rstrip(b"\n")]
        valid: set[str] = {row[0] for row in data.appointments}
        bad_lines: list[int] = []
        for index, (is_valid, garbage) in enumerate(lines):
            line = len(data.appointments) + 2 + index
            if is_valid:
                pms_id = f"V{index}"
                valid.add(pms_id)
                body.append(",".join(appointment(pms_id, "1002", "2026-12-15T09:00")).encode())
            else:
                body.append(garbage)
                if garbage.replace(b"\0", b""):
                    bad_lines.append(line)
        (export / "appointments.csv").write_bytes(b"\n".join(body) + b"\n")
        summary = sync.run()
        assert summary.ok, summary.text()
        assert summary.cancelled == 0
        found = appointments_by_pms_id(engine)
        assert valid <= set(found)
        assert all(a.status != "cancelled" for a in found.values())
        assert summary.run_id is not None
        reported = [p.line for p in sync_problems(engine, summary.run_id)]
        assert reported == bad_lines


@_SETTINGS
@given(st.binary(max_size=400), st.sampled_from(["utf-8", "bom", "raw"]))
def test_any_bytes_in_an_inbox_file_are_rejected_or_imported(data: bytes, how: str) -> None:
    with _database() as (engine, folder):
        inbox = folder / "inbox"
        drop_request(inbox, "a-good.json", fhir_request("GOOD"))
        if how == "utf-8":
            data = data.decode("utf-8", "replace").encode()
        elif how == "bom":
            data = b"\xef\xbb\xbf" + data
        path = inbox / "b-fuzz.json"
        path.write_bytes(data)
        _age(path)
        summary = make_sync(engine, None, inbox).run()
        assert summary.ok, summary.text()
        assert summary.requests_imported >= 1
        assert not path.exists()
        rejected = inbox / "rejected" / "b-fuzz.json"
        assert rejected.exists() or (inbox / "processed" / "b-fuzz.json").exists()
        if rejected.exists():
            assert (inbox / "rejected" / "b-fuzz.json.reason.txt").read_text("utf-8").strip()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_FIELDS = st.sampled_from(
    ["id", "status", "created", "requestedPeriod", "participant", "contained", "reasonCode"]
)


@_SETTINGS
@given(st.dictionaries(_FIELDS, _JSON, max_size=3))
def test_any_shape_of_the_used_fields_is_rejected_or_imported(changes: dict[str, object]) -> None:
    """A request whose fields have any JSON value: imported or rejected, never a failed
    step; the good request beside it is imported."""
    with _database() as (engine, folder):
        inbox = folder / "inbox"
        drop_request(inbox, "a-good.json", fhir_request("GOOD"))
        drop_request(inbox, "b-fuzz.json", fhir_request("FUZZ", **cast(dict[str, Any], changes)))
        summary = make_sync(engine, None, inbox).run()
        assert summary.ok, summary.text()
        assert summary.requests_imported >= 1
        assert not (inbox / "b-fuzz.json").exists()
