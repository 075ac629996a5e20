"""``linker-tui audit``: the audit trail for a date range, as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy.engine import Engine

from linker_tui.cli.audit import audit_rows, write_audit
from tests.builders import TZ, add_request, local
from tests.conftest import decision_day, make_workflow


def test_export_by_local_day_in_csv_and_json(engine: Engine) -> None:
    rid = add_request(engine, "Ann", "Nobody", local(2026, 12, 3, 9, 30))
    make_workflow(engine).defer(rid, expected_version=1)
    make_workflow(engine, "bob", "desk-2").reject(rid, "No availability", expected_version=2)

    day, one = decision_day(engine), timedelta(days=1)
    out = io.StringIO()
    assert write_audit(audit_rows(engine, TZ, day, day), "csv", out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["action"], r["os_user"], r["workstation"]) for r in rows] == [
        ("defer", "alice", "desk-1"),
        ("reject", "bob", "desk-2"),
    ]
    assert rows[1]["detail"] == "No availability" and rows[0]["request"].startswith("REQ-")
    assert rows[0]["at"].endswith("+00:00")

    out = io.StringIO()
    assert write_audit(audit_rows(engine, TZ, day + one, None), "json", out) == 0
    assert json.loads(out.getvalue()) == []
    out = io.StringIO()
    write_audit(audit_rows(engine, TZ, None, day - one), "json", out)
    assert json.loads(out.getvalue()) == []
