#!/usr/bin/env python3
"""Load a PMS export (the demo's ``data/`` folder by default) into a MariaDB/MySQL
database with Open Dental's tables, to try the Open Dental connector without Open Dental.

Run from the repository::

    python scripts/load_open_dental_demo.py mysql+pymysql://root@127.0.0.1:3306/opendental_demo

The database is created (it must not hold tables of these names: ``--replace`` drops
them first), the tables come from ``tests/open_dental_schema.sql`` (Open Dental's own
names and types), then ``providers.csv``, ``patients.csv`` and ``appointments.csv`` are
mapped to Open Dental rows: a provider whose title is empty is a hygienist
(``IsSecondary``; their appointments have ``IsHygiene`` and ``ProvHyg``), the
duration becomes a ``Pattern`` of 5-minute characters, the status an ``AptStatus``,
operatory names ``operatory`` rows, ``A00042`` the ``AptNum`` 42. Then point linker_tui
at it (``pms = "open_dental"``, ``open_dental_url``; docs/sync.md).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "open_dental_schema.sql"
TABLES = (
    "clinic",
    "provider",
    "operatory",
    "patient",
    "appointment",
    "histappointment",
    "deletedobject",
)
# the export's status words → Open Dental's AptStatus (Open Dental has no "cancelled":
# a cancelled appointment is broken there)
APT_STATUS = {
    "scheduled": 1,
    "confirmed": 1,
    "completed": 2,
    "unscheduled": 3,
    "broken": 5,
    "cancelled": 5,
}
_CHUNK = 5_000


def create_database(url: str, *, replace: bool = False) -> None:
    """Create the database of ``url`` and Open Dental's tables in it."""
    parsed = make_url(url)
    name = parsed.database
    if not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"need a plain database name in the URL, not {name!r}")
    server = sa.create_engine(parsed.set(database=""))
    with server.begin() as conn:
        if replace:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    server.dispose()
    engine = sa.create_engine(parsed)
    with engine.begin() as conn:
        for statement in schema_statements():
            conn.exec_driver_sql(statement)
    engine.dispose()


def schema_statements() -> list[str]:
    """The ``CREATE TABLE`` statements of the schema file (comments left out)."""
    text = "\n".join(
        line
        for line in SCHEMA.read_text(encoding="utf-8").splitlines()
        if not line.startswith("--")
    )
    return [s.strip() for s in text.split(";") if s.strip()]


def insert(
    conn: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert rows in chunks (one multi-row statement per chunk); returns the count."""
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    count = 0
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _CHUNK:
            conn.exec_driver_sql(sql, chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        conn.exec_driver_sql(sql, chunk)
        count += len(chunk)
    return count


class _Numbers:
    """Ids of the export → Open Dental's numbers (``A00042`` → 42, ``1001`` → 1001; an id
    without digits, or a number taken, gets the next free one)."""

    def __init__(self) -> None:
        self.of: dict[str, int] = {}
        self.used: set[int] = set()
        self.top = 0

    def __call__(self, text: str) -> int:
        found = self.of.get(text)
        if found is not None:
            return found
        digits = re.sub(r"\D", "", text)
        value = int(digits) if digits else 0
        if not value or value in self.used:
            value = self.top + 1
        self.of[text] = value
        self.used.add(value)
        self.top = max(self.top, value)
        return value


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def load_export(url: str, folder: Path, *, stamp: datetime | None = None) -> dict[str, int]:
    """Load the three CSV files of ``folder``; returns the rows inserted per table.
    ``stamp`` (UTC): every row's ``DateTStamp`` (default: the export's ``updated_at``
    for appointments, now for the others)."""
    now = (stamp or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S")
    providers = _Numbers()
    hygienists: set[str] = set()
    patients = _Numbers()
    operatories: dict[str, int] = {}
    counts: dict[str, int] = {}
    engine = sa.create_engine(make_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql("SET SESSION time_zone = '+00:00'")
        rows = []
        for row in _read(folder / "providers.csv"):
            num = providers(row["provider_id"])
            secondary = not row.get("title", "").strip().lower().startswith("dr")
            if secondary:
                hygienists.add(row["provider_id"])
            hidden = row.get("active", "1").strip().lower() in ("0", "false", "no", "n")
            rows.append(
                (
                    num,
                    row.get("abbr", ""),
                    row.get("first_name", ""),
                    row.get("last_name", ""),
                    int(secondary),
                    int(hidden),
                    now,
                )
            )
        counts["provider"] = insert(
            conn,
            "provider",
            ("ProvNum", "Abbr", "FName", "LName", "IsSecondary", "IsHidden", "DateTStamp"),
            rows,
        )
        dentist = next((n for p, n in providers.of.items() if p not in hygienists), 0)
        patient_rows = _read(folder / "patients.csv")
        for row in patient_rows:
            patients(row["patient_id"])
        counts["patient"] = insert(
            conn,
            "patient",
            (
                "PatNum",
                "LName",
                "FName",
                "Preferred",
                "Birthdate",
                "Email",
                "HmPhone",
                "WirelessPhone",
                "Guarantor",
                "PatStatus",
                "DateTStamp",
            ),
            (
                (
                    patients(r["patient_id"]),
                    r.get("last_name", ""),
                    r.get("first_name", ""),
                    r.get("preferred_name", ""),
                    r.get("birthdate") or "0001-01-01",
                    r.get("email", ""),
                    r.get("phone_home", ""),
                    r.get("phone_mobile", ""),
                    patients.of.get(r.get("guarantor_id", ""), patients(r["patient_id"])),
                    0,
                    now,
                )
                for r in patient_rows
            ),
        )
        appointment_rows = _read(folder / "appointments.csv")
        for row in appointment_rows:
            name = row.get("operatory", "").strip()
            if name and name not in operatories:
                operatories[name] = len(operatories) + 1
        counts["operatory"] = insert(
            conn,
            "operatory",
            ("OperatoryNum", "OpName", "Abbrev", "ItemOrder", "DateTStamp"),
            ((num, name, name[:5], num, now) for name, num in operatories.items()),
        )
        numbers = _Numbers()

        def appointment(r: dict[str, str]) -> tuple[Any, ...]:
            prov = r.get("provider_id", "")
            hygiene = prov in hygienists
            start = datetime.fromisoformat(r["start"]).replace(tzinfo=None)
            minutes = int(r.get("duration_min") or 30)
            updated = r.get("updated_at", "").strip()
            when = (
                datetime.fromisoformat(updated).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
                if updated and stamp is None
                else now
            )
            return (
                numbers(r["appointment_id"]),
                patients(r["patient_id"]),
                APT_STATUS[r["status"].strip().lower()],
                "X" * max(1, minutes // 5),
                operatories.get(r.get("operatory", "").strip(), 0),
                dentist if hygiene else providers.of.get(prov, 0),
                providers.of[prov] if hygiene else 0,
                start,
                r.get("reason", ""),
                int(hygiene),
                when,
            )

        counts["appointment"] = insert(
            conn,
            "appointment",
            (
                "AptNum",
                "PatNum",
                "AptStatus",
                "Pattern",
                "Op",
                "ProvNum",
                "ProvHyg",
                "AptDateTime",
                "ProcDescript",
                "IsHygiene",
                "DateTStamp",
            ),
            map(appointment, appointment_rows),
        )
    engine.dispose()
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="mysql+pymysql://user@host:3306/database")
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "data")
    parser.add_argument("--replace", action="store_true", help="drop the database first")
    args = parser.parse_args(argv)
    create_database(args.url, replace=args.replace)
    counts = load_export(args.url, args.folder)
    shown = make_url(args.url).render_as_string(hide_password=True)
    print(f"loaded into {shown}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
