"""Build a large practice database for the benchmarks (SQLAlchemy Core bulk inserts).

The data is synthetic but shaped like the demo: providers, patients, appointments spread
over 18 months back and 4 months ahead, and pending requests of which a share match an
appointment exactly and the rest partially or not at all."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.matching import patient_keys
from linker_tui.store.db import make_engine
from linker_tui.store.models import Appointment, OnlineRequest, Patient, Provider
from linker_tui.store.schema import create_schema

FIRST = [
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Lucas",
    "Mia",
    "Ethan",
    "Zoë",
    "José",
    "Amelia",
    "Harper",
    "Owen",
    "Chloé",
    "Aarav",
    "Mei",
    "Sofia",
    "Jack",
    "Leo",
    "Nora",
]
LAST = [
    "Smith",
    "Tremblay",
    "Patel",
    "Nguyen",
    "Brown",
    "Côté",
    "Wong",
    "Martin",
    "Singh",
    "Lee",
    "Roy",
    "Gagnon",
    "Wilson",
    "Kim",
    "Chen",
    "Li",
    "Taylor",
    "Khan",
    "Ali",
    "Park",
]
CHUNK = 20_000


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[start : start + CHUNK])


def build(
    path: Path,
    *,
    patients: int,
    appointments: int,
    requests: int,
    today: date,
    tz: ZoneInfo,
    seed: int = 7,
) -> Engine:
    """Create ``path`` afresh with the given numbers of rows; returns its engine."""
    if path.exists():
        path.unlink()
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    rng = random.Random(seed)
    base = datetime.combine(today, datetime.min.time(), tzinfo=tz)
    with engine.begin() as conn:
        _insert(
            conn,
            Provider.__table__,
            [
                {
                    "pms_id": f"DOC{i}",
                    "abbr": f"DOC{i}",
                    "first_name": f"Doc{i}",
                    "last_name": LAST[i],
                    "title": "Dr.",
                    "active": True,
                }
                for i in range(1, 7)
            ],
        )
        patient_rows = []
        for i in range(1, patients + 1):
            first, last = rng.choice(FIRST), f"{rng.choice(LAST)}{i // 50}"
            patient_rows.append(
                {
                    "pms_id": str(100000 + i),
                    "first_name": first,
                    "last_name": last,
                    "preferred_name": "",
                    **patient_keys(
                        first, last, "", f"p{i}@example.com", f"416555{i % 10000:04d}"
                    ).columns(),
                    "birthdate": date(1940, 1, 1) + timedelta(days=rng.randrange(30000)),
                    "email": f"p{i}@example.com",
                    "phone_home": f"416555{i % 10000:04d}",
                    "phone_mobile": "",
                    "guarantor_pms_id": "",
                    "no_email": False,
                }
            )
        _insert(conn, Patient.__table__, patient_rows)
        statuses = ["scheduled", "confirmed", "completed", "cancelled", "broken"]
        appointment_rows = []
        for i in range(1, appointments + 1):
            day = rng.randrange(-540, 120)
            start = base + timedelta(
                days=day, hours=8 + rng.randrange(9), minutes=30 * rng.randrange(2)
            )
            status = rng.choice(statuses[:2] if day >= 0 else statuses[2:] + ["completed"] * 6)
            appointment_rows.append(
                {
                    "pms_id": f"A{i:08d}",
                    "patient_id": rng.randrange(1, patients + 1),
                    "provider_id": rng.randrange(1, 7),
                    "start": start.astimezone(UTC),
                    "duration_min": 60,
                    "operatory": f"OP{rng.randrange(1, 5)}",
                    "reason": "Cleaning",
                    "status": status,
                    "pms_updated_at": None,
                }
            )
        _insert(conn, Appointment.__table__, appointment_rows)
        future = [a for a in appointment_rows if a["status"] in ("scheduled", "confirmed")]
        request_rows = []
        for i in range(1, requests + 1):
            if future and i % 3:
                target = rng.choice(future)
                patient_id, start = target["patient_id"], cast(datetime, target["start"])
                if i % 3 == 2:
                    start = start + timedelta(days=1)
            else:
                patient_id = None
                start = (base + timedelta(days=rng.randrange(1, 90), hours=10)).astimezone(UTC)
            patient = patient_rows[patient_id - 1] if patient_id else None  # type: ignore[operator]
            request_rows.append(
                {
                    "external_id": f"REQ-{i:06d}",
                    "received_at": (base - timedelta(minutes=i)).astimezone(UTC),
                    "typed_first_name": patient["first_name"] if patient else "Unknown",
                    "typed_last_name": patient["last_name"] if patient else f"Person{i}",
                    "typed_birthdate": patient["birthdate"] if patient else None,
                    "typed_email": "",
                    "typed_phone": "",
                    "requested_start": start,
                    "requested_duration_min": 60,
                    "requested_provider_id": rng.randrange(1, 7),
                    "reason": "Cleaning",
                    "note": "",
                    "patient_id": patient_id,
                    "state": "pending",
                    "linked_appointment_id": None,
                    "reject_reason": "",
                    "decided_by": "",
                    "decided_at": None,
                    "version": 1,
                }
            )
        _insert(conn, OnlineRequest.__table__, request_rows)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return engine
