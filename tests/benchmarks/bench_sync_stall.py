"""Benchmark: the longest event-loop stall of the running app while a big PMS sync runs
in the background (a script, not a test).

Run:  python -m tests.benchmarks.bench_sync_stall [--work DIR] [--in-process]

Generates (once) the 100k-patient / 1M-appointment export of ``bench_sync``, starts the
app headless at 120x40 on a fresh database, and while the initial sync of that export
runs in the background the way the app runs it ("Sync now", the scheduled job: in a child
process, ``Services.sync_in_background``; with ``--in-process``, in one of the app's
threads, as ``sync_in_subprocess = false`` does) it measures how late a 5 ms timer on the
app's event loop fires and moves the list cursor every 50 ms like a user. Prints the
longest and the 99th-percentile lateness before and during the sync. Target: the
longest stall during the sync under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime
from pathlib import Path

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.services import Services
from linker_tui.settings.config import Settings
from linker_tui.store.db import make_engine
from linker_tui.store.schema import create_schema
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.screens.main import MainScreen
from tests.benchmarks.bench_sync import TODAY, TZ, generate

TICK = 0.005


class StallMeter:
    """Records how late each 5 ms tick of the event loop comes."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(TICK)
            self.lateness.append(time.perf_counter() - began - TICK)

    def start(self) -> None:
        self.lateness.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> list[float]:
        assert self._task is not None
        self._task.cancel()
        return list(self.lateness)


def _report(label: str, lateness: list[float]) -> None:
    ordered = sorted(lateness)
    p99 = ordered[int(len(ordered) * 0.99)] if ordered else 0.0
    print(
        f"{label:<28} ticks {len(ordered):6d}  longest stall {max(ordered) * 1000:6.1f} ms"
        f"  p99 {p99 * 1000:5.1f} ms  median {statistics.median(ordered) * 1000:5.2f} ms"
    )


async def run(work: Path, in_process: bool = False) -> None:
    export = work / "export"
    if not (export / "appointments.csv").exists():
        began = time.perf_counter()
        generate(export, 100_000, 1_000_000)
        print(f"generated the export in {time.perf_counter() - began:.1f} s")
    db = work / "stall.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    create_schema(engine)
    settings = Settings(
        data_dir=work,
        database_url=f"sqlite:///{db}",
        practice_name="Bench",
        practice_timezone=TZ.key,
        pms_export_dir=export,
        sync_in_subprocess=not in_process,
    )
    now = datetime.combine(TODAY, datetime.min.time(), TZ)
    services = Services.open(settings, clock=FixedClock(now), actor=Actor("b", "b"), engine=engine)
    app = LinkerApp(services, background_jobs=False)
    meter = StallMeter()
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, MainScreen):
            await asyncio.sleep(0.01)
        meter.start()
        await asyncio.sleep(1.0)
        _report("idle app (1 s)", meter.stop())

        meter.start()
        began = time.perf_counter()
        sync = asyncio.create_task(asyncio.to_thread(services.sync_in_background, trigger="bench"))
        while not sync.done():
            await pilot.press("down")
            await asyncio.sleep(0.05)
        summary = await sync
        seconds = time.perf_counter() - began
        lateness = meter.stop()
        where = "in the app's process" if in_process else "in a child process"
        print(f"sync {where}: {seconds:.1f} s, {summary.text()}")
        _report("during the sync", lateness)
        print(f"longest stall during the sync: {max(lateness) * 1000:.1f} ms (target < 50 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--work", type=Path, default=Path("bench-out/sync"))
    parser.add_argument(
        "--in-process", action="store_true", help="sync in an app thread, not a child process"
    )
    args = parser.parse_args()
    asyncio.run(run(args.work, args.in_process))


if __name__ == "__main__":
    main()
