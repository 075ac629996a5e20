"""Benchmark: Accept → candidates modal, at 1k and 1M appointments (100k patients, 10k
pending requests in both databases).

Run:  python -m tests.benchmarks.bench_tui [--workdir DIR] [--accepts N]

Prints Accept → the modal showing the candidates, median (target < 100 ms), and the ratio
of the 1M database's median to the 1k database's (target ≤ 1.5). The launch staff wait
for (launch → first request rows, in a real terminal) is ``bench_launch.py``.
The databases are built once into --workdir (about 40 s for the 1M one) and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from textual import events

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.services import Services
from linker_tui.settings.config import Settings
from linker_tui.store.db import make_engine
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.candidates import Candidates, NoMatch
from linker_tui.tui.modals.duplicate import Duplicate
from linker_tui.tui.modals.link import ExactMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.screens.main import MainScreen
from tests.benchmarks.build_db import build

FIRST_DIALOGS = (Candidates, Duplicate, ExactMatch, NoMatch, PatientChooser)
"""The dialogs Accept can open with."""

TZ = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
SIZE = (120, 40)
JOBS = True  # the app as staff run it: scheduler, status line, live refresh


def _services(db: Path, workdir: Path) -> Services:
    settings = Settings(data_dir=workdir, practice_name="Bench", practice_timezone=TZ.key)
    engine = make_engine(f"sqlite:///{db}")
    return Services.open(settings, clock=FixedClock(NOW), actor=Actor("bench", "b"), engine=engine)


async def _wait(condition: object, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.0005)


def _children() -> list[int]:
    """Process ids of this process's live children (Linux; empty elsewhere)."""
    children: list[int] = []
    for task in Path("/proc/self/task").glob("*/children"):
        try:
            children += [int(pid) for pid in task.read_text().split()]
        except OSError:
            continue
    return children


async def _settle(timeout: float = 10.0) -> None:
    """Before each round, of every kind: wait until no child process of an app closed
    earlier is left (the app's background sync runs in one), and collect the garbage the
    earlier rounds left. Each round then starts the app the way staff do, on a quiet
    machine with a clean process, instead of racing the previous round's sync process or
    paying for collecting its objects."""
    deadline = time.perf_counter() + timeout
    while _children() and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    gc.collect()


async def accept_to_modal(db: Path, workdir: Path, count: int) -> list[float]:
    """Seconds from pressing Accept until the candidates (or no-match) modal is up."""
    app = LinkerApp(_services(db, workdir), background_jobs=JOBS)
    timings: list[float] = []
    await _settle()
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await _wait(lambda: main.table.row_count > 0 and main.selected is not None)
        for _ in range(count):
            await app.workers.wait_for_complete()
            # The real key path, without Pilot's own waits for idle after a key press.
            start = time.perf_counter()
            app.post_message(events.Key("a", "a"))
            await _wait(
                lambda: (
                    isinstance(
                        app.screen, (Candidates, Duplicate, ExactMatch, NoMatch, PatientChooser)
                    )
                    and app.screen.is_mounted
                )
            )
            timings.append(time.perf_counter() - start)
            await pilot.press("escape")
            await _wait(lambda: app.screen is main)
            await pilot.press("down")
    return timings


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def run(workdir: Path, accepts: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    databases = {}
    for label, appointments in (("1k", 1_000), ("1M", 1_000_000)):
        path = workdir / f"bench-{label}.db"
        if not path.exists():
            began = time.perf_counter()
            build(
                path,
                patients=100_000,
                appointments=appointments,
                requests=10_000,
                today=NOW.date(),
                tz=TZ,
            ).dispose()
            print(f"built {path.name} in {time.perf_counter() - began:.1f} s")
        databases[label] = path

    accept_medians = {}
    for label, path in databases.items():
        timings = await accept_to_modal(path, workdir, accepts)
        accept_medians[label] = statistics.median(timings)
        print(
            f"{label:>2} appointments, Accept -> modal:  median {_ms(accept_medians[label])}"
            f"  p90 {_ms(sorted(timings)[int(len(timings) * 0.9)])}  (target < 100 ms)"
        )
    print(
        f"Accept -> modal, 1M/1k ratio: {accept_medians['1M'] / accept_medians['1k']:.2f}"
        " (target <= 1.5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--accepts", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.workdir, args.accepts))


if __name__ == "__main__":
    main()
