"""Benchmark the Open Dental connector (a script, not a test):
``python -m tests.benchmarks.bench_open_dental [--url mysql+pymysql://root@127.0.0.1:3306/opendental_bench]``.

Generates the CSV export of ``bench_sync`` (100k patients, 1M appointments by default;
once, into ``--work``), loads the same rows into a MariaDB database with Open Dental's
tables (``scripts/load_open_dental_demo.py``; once, ``--reload`` to redo; rows stamped
two hours ago), then measures in the same run, each initial import on a fresh SQLite
database with the app's schema:

* **CSV initial import**: ``SyncEngine.run()`` with the CSV-folder connector;
* **Open Dental initial import**: the same with the Open Dental connector — target at
  least half the CSV connector's rows/s, a peak RSS under 300 MiB (each import in a
  fresh process, as the app runs it; ``VmHWM``);
* **no change**: runs with nothing changed in Open Dental (only the cursor is read), with
  the connector (and its connection) kept between runs — target < 100 ms; and the first
  run of a process, which also connects;
* **1k changed**: 1,000 appointments moved by a day in Open Dental, then a run —
  target < 1 s.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.ingest.pms_export import ExportFormat
from linker_tui.store.db import make_engine
from linker_tui.store.schema import create_schema
from linker_tui.sync.connector import Connector
from linker_tui.sync.csv_folder import CsvFolderConnector
from linker_tui.sync.engine import SyncEngine, SyncOptions
from linker_tui.sync.open_dental import OpenDentalConnector
from linker_tui.sync.summary import SyncSummary
from scripts.load_open_dental_demo import create_database, load_export
from tests.benchmarks.bench_sync import TODAY, TZ, generate, peak_rss

NOW = datetime.combine(TODAY, datetime.min.time(), TZ) + timedelta(hours=9)


def _engine(path: Path) -> sa.Engine:
    path.unlink(missing_ok=True)
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    return engine


def _run(engine: sa.Engine, connector: Connector) -> tuple[SyncSummary, float]:
    sync = SyncEngine(
        engine, FixedClock(NOW), Actor("bench", "bench"), SyncOptions(TZ), connector=connector
    )
    began = time.perf_counter()
    summary = sync.run()
    seconds = time.perf_counter() - began
    if not summary.ok:
        raise SystemExit(f"sync failed: {summary.text()}")
    return summary, seconds


def one_import(kind: str, url: str, folder: Path, db: Path) -> None:
    """In a fresh process (as the app runs each sync): one initial import into a fresh
    database with the CSV (``kind`` ``csv``) or the Open Dental connector; prints its
    seconds, summary and the process's peak RSS as JSON."""
    connector: Connector = (
        CsvFolderConnector(folder, ExportFormat(TZ))
        if kind == "csv"
        else OpenDentalConnector(url, TZ)
    )
    summary, seconds = _run(_engine(db), connector)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak": peak_rss(), "text": summary.text()}))


def _import_in_child(kind: str, args: argparse.Namespace, db: Path) -> tuple[float, int, str]:
    """:func:`one_import` in a fresh process: (seconds, peak RSS in bytes, summary with
    the process's CPU seconds)."""
    command = [sys.executable, "-m", "tests.benchmarks.bench_open_dental", "--one-import"]
    command += [kind, "--url", args.url, "--work", str(args.work), "--db", str(db)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the {kind} import failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["seconds"], out["peak"], f"CPU {out['cpu']:.1f} s; {out['text']}"


def _loaded(url: str, appointments: int) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT COUNT(*) FROM appointment").scalar()
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()
    return count == appointments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/opendental_bench")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/open_dental"))
    parser.add_argument("--reload", action="store_true", help="load Open Dental's tables again")
    parser.add_argument(
        "--again",
        action="store_true",
        help="skip the initial imports: reuse the last run's imported database",
    )
    parser.add_argument("--one-import", choices=("csv", "od"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.work / "export"
    if args.one_import:
        one_import(args.one_import, args.url, folder, args.db)
        return
    began = time.perf_counter()
    generate(folder, args.patients, args.appointments)
    print(f"export ready in {time.perf_counter() - began:.1f} s")
    if args.reload or not _loaded(args.url, args.appointments):
        began = time.perf_counter()
        create_database(args.url, replace=True)
        counts = load_export(args.url, folder, stamp=datetime.now(UTC) - timedelta(hours=2))
        print(f"loaded into MariaDB in {time.perf_counter() - began:.1f} s: {counts}")
    rows = args.patients + args.appointments + 6

    if not args.again:
        csv_seconds, csv_peak, csv_text = _import_in_child("csv", args, args.work / "csv.db")
        print(
            f"CSV initial import: {csv_seconds:.1f} s = {rows / csv_seconds / 1000:.0f}k "
            f"rows/s, peak RSS {csv_peak / 2**20:,.0f} MiB ({csv_text})"
        )
        od_seconds, od_peak, od_text = _import_in_child("od", args, args.work / "open_dental.db")
        print(
            f"Open Dental initial import: {od_seconds:.1f} s = {rows / od_seconds / 1000:.0f}k "
            f"rows/s = {csv_seconds / od_seconds:.2f}x the CSV connector, peak RSS "
            f"{od_peak / 2**20:,.0f} MiB (target < 300 MiB) ({od_text})"
        )
    od_db = make_engine(f"sqlite:///{args.work / 'open_dental.db'}")
    cold = [_run(od_db, OpenDentalConnector(args.url, TZ))[1] for _ in range(3)]
    connector = OpenDentalConnector(args.url, TZ)  # as a process keeps it between runs
    quiet = [_run(od_db, connector)[1] for _ in range(6)][1:]
    print(
        f"no change: median {statistics.median(quiet) * 1000:.0f} ms, "
        f"max {max(quiet) * 1000:.0f} ms (5 runs, connection kept); the first run of a "
        f"process (new connection): median {statistics.median(cold) * 1000:.0f} ms"
    )
    picked = random.Random(3).sample(range(1, args.appointments + 1), args.changes)
    writer = sa.create_engine(make_url(args.url))
    with writer.begin() as conn:
        marks = ", ".join(["%s"] * len(picked))
        conn.exec_driver_sql(
            "UPDATE appointment SET AptDateTime = AptDateTime + INTERVAL 1 DAY "
            f"WHERE AptNum IN ({marks})",
            tuple(picked),
        )
    writer.dispose()
    summary, seconds = _run(od_db, connector)
    print(f"{args.changes} changed: {seconds * 1000:.0f} ms ({summary.text()})")


if __name__ == "__main__":
    main()
