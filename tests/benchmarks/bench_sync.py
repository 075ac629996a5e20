"""Benchmark the PMS sync (a script, not a test):
``PYTHONPATH=. python tests/benchmarks/bench_sync.py [--patients 100000 --appointments
1000000 --changes 1000 --work bench-out/sync]``.

Generates a CSV export of 100k patients and 1M appointments (once, into ``--work``),
then measures in the same run, each sync in a fresh process as the app runs it (the
time from its launch, imports included, and inside it the run's own; its peak RSS):

* **plain upsert** (the baseline): ``sqlite3`` ``executemany`` of ``INSERT … ON CONFLICT
  (pms_id) DO UPDATE`` with the same rows already parsed (patients with their search
  keys, ids resolved), the same pragmas as the app's connections (WAL, synchronous
  NORMAL, foreign keys) and a 64 MiB page cache (the sync's run has 16 MiB), one
  transaction;
* **initial import** into a fresh SQLite database with the app's schema — target at
  least half the plain upsert's rows/s, a peak RSS under 300 MiB;
* a forced re-run with nothing changed; the same with the stored index dropped (every
  record read again and upserted, as after an index format update; target < 300 MiB);
  a run after every file was written again with the same bytes (target < 50 ms);
* **1k changed appointments** in place, and 1k changed with every row moved (the PMS
  writes its rows in another order) — target < 1 s each;
* a run whose export files are untouched (only the cursor is compared).

``--again`` skips the plain upsert and the initial import (the last run's database and
export are used as they are); ``--rounds N`` runs the two 1k-change cases N times.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.ingest.pms_export import ExportFormat, RowParser
from linker_tui.matching import patient_keys
from linker_tui.store.db import make_engine
from linker_tui.store.schema import create_schema
from linker_tui.sync.appointment_writer import APPOINTMENT_COLUMNS
from linker_tui.sync.csv_folder import CsvFolderConnector
from linker_tui.sync.engine import SyncEngine, SyncOptions
from linker_tui.sync.writers import PATIENT_COLUMNS, PROVIDER_COLUMNS
from tests.benchmarks.build_db import FIRST, LAST

TZ = ZoneInfo("America/Toronto")
TODAY = date(2026, 11, 27)
PROVIDERS = ["DOC1", "DOC2", "DOC3", "HYG1", "HYG2", "HYG3"]
REASONS = ["Cleaning", "Check-up", "Filling", "Crown seat", "Root canal", "Extraction, simple"]
STATUSES = ["scheduled", "confirmed", "completed", "cancelled", "broken"]


def generate(folder: Path, patients: int, appointments: int, seed: int = 7) -> None:
    """Write providers.csv, patients.csv and appointments.csv (skipped if present)."""
    marker = folder / f".complete-{patients}-{appointments}-{seed}"
    if marker.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with (folder / "providers.csv").open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["provider_id", "abbr", "first_name", "last_name", "title", "active"])
        for code in PROVIDERS:
            out.writerow([code, code, rng.choice(FIRST), rng.choice(LAST), "Dr.", "1"])
    with (folder / "patients.csv").open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(
            [
                "patient_id",
                "last_name",
                "first_name",
                "preferred_name",
                "birthdate",
                "email",
                "phone_home",
                "phone_mobile",
                "guarantor_id",
                "email_opt_out",
            ]
        )
        for i in range(patients):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(30_000))
            out.writerow(
                [
                    str(100_000 + i),
                    last,
                    first,
                    "",
                    born.isoformat(),
                    f"p{i}@example.com",
                    f"416-555-{i % 10_000:04d}",
                    f"(647) 555-{(i * 7) % 10_000:04d}" if i % 3 else "",
                    str(100_000 + i - i % 3),
                    "1" if i % 17 == 0 else "0",
                ]
            )
    first_day = TODAY - timedelta(days=540)
    with (folder / "appointments.csv").open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(
            [
                "appointment_id",
                "patient_id",
                "provider_id",
                "start",
                "duration_min",
                "operatory",
                "reason",
                "status",
                "updated_at",
            ]
        )
        for i in range(appointments):
            day = first_day + timedelta(days=rng.randrange(660))
            start = datetime.combine(day, datetime.min.time()) + timedelta(
                hours=8, minutes=10 * rng.randrange(54)
            )
            future = day >= TODAY
            status = rng.choice([*STATUSES[:2], "cancelled"] if future else STATUSES[2:])
            out.writerow(
                [
                    f"A{i:07d}",
                    str(100_000 + rng.randrange(patients)),
                    rng.choice(PROVIDERS),
                    start.strftime("%Y-%m-%dT%H:%M"),
                    rng.choice(("30", "40", "60", "90")),
                    f"OP{rng.randrange(1, 5)}",
                    rng.choice(REASONS),
                    status,
                    (start - timedelta(days=rng.randrange(1, 60))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                ]
            )
    marker.touch()


def change_rows(folder: Path, count: int, seed: int) -> None:
    """Change ``count`` appointments (reason and duration) in ``appointments.csv``."""
    path = folder / "appointments.csv"
    lines = path.read_bytes().split(b"\n")
    rng = random.Random(seed)
    for index in rng.sample(range(1, len(lines) - 1), count):
        fields = next(csv.reader([lines[index].decode()]))
        fields[6] = f"Changed {seed}"
        fields[4] = "45"
        text = ",".join(f'"{f}"' if "," in f else f for f in fields)
        lines[index] = text.encode()
    path.write_bytes(b"\n".join(lines))


def _fresh(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    return f"sqlite:///{path}"


def plain_upsert(folder: Path, db: Path) -> tuple[int, float]:
    """The same rows, parsed beforehand, upserted with plain sqlite3: (rows, seconds)."""
    _fresh(db)
    parser = RowParser(ExportFormat(TZ))
    with (folder / "providers.csv").open(encoding="utf-8", newline="") as handle:
        providers = [parser.provider(r) for r in csv.DictReader(handle)]
    with (folder / "patients.csv").open(encoding="utf-8", newline="") as handle:
        patients = [parser.patient(r) for r in csv.DictReader(handle)]
    with (folder / "appointments.csv").open(encoding="utf-8", newline="") as handle:
        appointments = [parser.appointment(r) for r in csv.DictReader(handle)]
    provider_rows = [
        (p.pms_id, p.abbr, p.first_name, p.last_name, p.title, p.active) for p in providers
    ]
    patient_rows = []
    for p in patients:
        k = patient_keys(
            p.first_name, p.last_name, p.preferred_name, p.email, p.phone_home, p.phone_mobile
        )
        patient_rows.append(
            (
                p.pms_id,
                p.first_name,
                p.last_name,
                p.preferred_name,
                k.first_name_key,
                k.last_name_key,
                k.preferred_name_key,
                k.last_name_sound,
                k.email_key,
                k.phone_home_key,
                k.phone_mobile_key,
                p.birthdate.isoformat() if p.birthdate else None,
                p.email,
                p.phone_home,
                p.phone_mobile,
                p.guarantor_pms_id,
                p.no_email,
            )
        )
    provider_ids = {p.pms_id: i + 1 for i, p in enumerate(providers)}
    patient_ids = {p.pms_id: i + 1 for i, p in enumerate(patients)}  # as inserted, in order

    def stamp(moment: datetime | None) -> str | None:
        if moment is None:
            return None
        return (
            moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None).isoformat(" ", "microseconds")
        )

    appointment_rows = [
        (
            a.pms_id,
            patient_ids[a.patient_pms_id],
            provider_ids.get(a.provider_pms_id),
            stamp(a.start),
            a.duration_min,
            a.operatory,
            a.reason,
            a.status.value,
            stamp(a.updated_at),
        )
        for a in appointments
    ]
    del providers, patients, appointments
    con = sqlite3.connect(db, isolation_level=None)
    for pragma in (
        "foreign_keys=ON",
        "busy_timeout=30000",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "cache_size=-65536",
    ):
        con.execute(f"PRAGMA {pragma}")

    def sql(table: str, columns: tuple[str, ...]) -> str:
        names = ", ".join(f'"{c}"' for c in columns)
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != "pms_id")
        marks = ", ".join("?" for _ in columns)
        return (
            f"INSERT INTO {table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT (pms_id) DO UPDATE SET {sets}"
        )

    began = time.perf_counter()
    con.execute("BEGIN IMMEDIATE")
    con.executemany(sql("provider", PROVIDER_COLUMNS), provider_rows)
    con.executemany(sql("patient", PATIENT_COLUMNS), patient_rows)
    con.executemany(sql("appointment", APPOINTMENT_COLUMNS), appointment_rows)
    con.execute("COMMIT")
    seconds = time.perf_counter() - began
    con.close()
    return len(provider_rows) + len(patient_rows) + len(appointment_rows), seconds


def _sync(url: str, folder: Path) -> SyncEngine:
    engine = make_engine(url)
    return SyncEngine(
        engine,
        FixedClock(datetime.combine(TODAY, datetime.min.time(), TZ)),
        Actor("bench", "bench"),
        SyncOptions(TZ),
        connector=CsvFolderConnector(folder, ExportFormat(TZ)),
    )


def one_run(url: str, folder: Path, force: bool) -> None:
    """In a fresh process (as the app runs each sync): one run; prints its seconds, its
    summary and the process's peak RSS as JSON."""
    began = time.perf_counter()
    sync = _sync(url, folder)
    assert sync.connector is not None
    read = sync.connector.changes
    reading = [0.0]

    def timed_changes(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return read(*args)
        finally:
            reading[0] += time.perf_counter() - start

    sync.connector.changes = timed_changes  # type: ignore[method-assign,assignment]
    summary = sync.run(trigger="bench", force=force)
    seconds = time.perf_counter() - began
    assert summary.ok, summary.text()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "seconds": seconds,
        "reading": reading[0],
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak": peak_rss(),
        "text": summary.text(),
    }
    print(json.dumps(out))


def csv_only(folder: Path) -> None:
    """In a fresh process: the baseline of the reading, ``appointments.csv`` read with the
    ``csv`` module alone (every record, nothing kept); prints as :func:`one_run`."""
    began = time.perf_counter()
    records = 0
    with (folder / "appointments.csv").open(encoding="utf-8", newline="") as handle:
        for _record in csv.reader(handle):
            records += 1
    seconds = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "seconds": seconds,
        "reading": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak": peak_rss(),
        "text": f"{records:,} records",
    }
    print(json.dumps(out))


def peak_rss() -> int:
    """This process's peak resident set size in bytes (``VmHWM``: of this program only;
    ``ru_maxrss`` keeps the parent's from before ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _in_child(
    url: str, folder: Path, *, force: bool = False
) -> tuple[float, float, dict[str, Any]]:
    """One run in a fresh process: (wall seconds from launch to exit, the run's seconds
    inside it, its output); ``url`` ``csv``: the csv module's reading alone."""
    mode = ["--csv-only"] if url == "csv" else ["--one-run", url]
    command = [sys.executable, __file__, *mode, "--work", str(folder)]
    began = time.perf_counter()
    done = subprocess.run(
        [*command, *(["--force"] if force else [])], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - began
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, result["seconds"], result


def shuffle_rows(folder: Path) -> None:
    """Write ``appointments.csv`` with its rows in another order (the same rows)."""
    path = folder / "appointments.csv"
    lines = path.read_bytes().split(b"\n")
    header, rows = lines[0], [line for line in lines[1:] if line]
    random.Random(11).shuffle(rows)
    path.write_bytes(b"\n".join([header, *rows]) + b"\n")


def drop_index(db: Path) -> None:
    """Drop the CSV connector's stored indexes and file stamps (the cursor stays): the
    next run reads every record again and writes a million rows that did not change, as
    the first run after an update of the index format does."""
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM sync_state WHERE name <> ''")
    con.close()


def _aged(path: Path) -> None:
    old = time.time() - 60  # as if written a minute ago
    os.utime(path, (old, old))


def _report(label: str, wall: float, result: dict[str, Any], target: str = "") -> None:
    peak = result["peak"] / 2**20
    print(
        f"{label}: {result['seconds']:.2f} s run (reading the export "
        f"{result['reading'] * 1000:.0f} ms), {wall:.2f} s from launch, CPU "
        f"{result['cpu']:.2f} s, peak RSS {peak:,.0f} MiB{target}\n    [{result['text']}]"
    )


def _first_import(folder: Path, work: Path) -> str:
    """The plain upsert (the baseline), then the initial import into a fresh database;
    returns the database's URL."""
    rows, plain_seconds = plain_upsert(folder, work / "plain.db")
    plain_rate = rows / plain_seconds
    print(
        f"plain sqlite3 upsert:  {rows:,} rows in {plain_seconds:.2f} s = {plain_rate:,.0f} rows/s"
    )
    url = _fresh(work / "sync.db")
    wall, seconds, result = _in_child(url, folder)
    rate = rows / seconds
    _report("initial import", wall, result, " (target < 300 MiB)")
    print(f"  = {rows:,} rows at {rate:,.0f} rows/s = {rate / plain_rate:.2f} x plain upsert")
    return url


def _changes(url: str, folder: Path, count: int, seed: int) -> None:
    """``count`` appointments changed in place, then ``count`` more and every row moved."""
    appointments = folder / "appointments.csv"
    change_rows(folder, count, seed=seed)
    _aged(appointments)
    wall, _seconds, result = _in_child(url, folder)
    _report(f"re-run, {count:,} appointments changed in place", wall, result, " (< 1 s)")
    change_rows(folder, count, seed=seed + 1)
    shuffle_rows(folder)
    _aged(appointments)
    wall, _seconds, result = _in_child(url, folder)
    _report(f"re-run, {count:,} changed, every row moved", wall, result, " (< 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/sync"))
    parser.add_argument(
        "--again",
        action="store_true",
        help="skip the plain upsert and the initial import: reuse the last run's database",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="times the two 1k-change cases are run"
    )
    parser.add_argument("--one-run", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--force", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--csv-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        one_run(args.one_run, args.work, args.force)
        return
    if args.csv_only:
        csv_only(args.work)
        return
    folder = args.work / "export"
    began = time.perf_counter()
    generate(folder, args.patients, args.appointments)
    for name in ("providers.csv", "patients.csv", "appointments.csv"):
        _aged(folder / name)
    print(f"export: {folder} ({time.perf_counter() - began:.1f} s to make or find)")
    size = sum((folder / n).stat().st_size for n in ("patients.csv", "appointments.csv"))
    print(f"  {args.patients:,} patients, {args.appointments:,} appointments, {size / 1e6:.0f} MB")

    wall, _seconds, result = _in_child("csv", folder)
    _report("baseline: the csv module reading appointments.csv alone", wall, result)
    again = f"sqlite:///{args.work / 'sync.db'}"
    url = again if args.again else _first_import(folder, args.work)

    wall, _seconds, result = _in_child(url, folder, force=True)
    _report("forced re-run, nothing changed", wall, result)
    drop_index(Path(url.removeprefix("sqlite:///")))
    wall, _seconds, result = _in_child(url, folder, force=True)
    _report(
        "forced re-run, the stored index dropped (every record read again)",
        wall,
        result,
        " (target < 300 MiB)",
    )
    for name in ("providers.csv", "patients.csv", "appointments.csv"):
        path = folder / name
        path.write_bytes(path.read_bytes())
        _aged(path)
    wall, _seconds, result = _in_child(url, folder)
    _report("re-run, every file written again with the same bytes", wall, result, " (< 50 ms)")
    for round_ in range(args.rounds):
        _changes(url, folder, args.changes, seed=int(time.time()) + 2 * round_)
    wall, _seconds, result = _in_child(url, folder)
    _report("re-run, export untouched (cursor only)", wall, result)
    wall, _seconds, result = _in_child("csv", folder)
    _report("baseline again: the csv module reading appointments.csv alone", wall, result)


if __name__ == "__main__":
    main()
