"""Benchmark: first frame of the main screen, and Accept → candidates modal, at 1k and 1M
appointments (100k patients, 10k pending requests in both databases).

Run:  python -m tests.benchmarks.bench_tui [--workdir DIR] [--rounds N]

Prints the figures and the ratios the targets are about:
  * the main screen's first frame, vs an empty Textual app's first frame measured in the
    same run (target ≤ 1.5x). Every first frame is timed in a fresh process, as staff
    start the app, the kinds taking turns (empty app, main screen at 1k, at 1M) round
    after round (``first_frame.py``). Printed beside it: the
    first page of requests listed (right after that frame), and launch → first frame,
    Python's start and the imports included;
  * Accept → the modal showing the candidates, median (target < 100 ms), and the ratio of
    the 1M database's median to the 1k database's (target ≤ 1.5).
The databases are built once into --workdir (about 40 s for the 1M one) and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from textual import events

from linker_tui.actor import Actor
from linker_tui.clock import FixedClock
from linker_tui.config import Settings
from linker_tui.db import make_engine
from linker_tui.services import Services
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.accept import Candidates, ExactMatch, NoMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.screens.main import MainScreen
from tests.benchmarks.build_db import build

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
                    isinstance(app.screen, (Candidates, ExactMatch, NoMatch, PatientChooser))
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


def first_frame(kind: str, db: Path | None, workdir: Path) -> dict[str, float]:
    """One first frame of ``kind`` in a fresh process (``first_frame.py``), with
    ``launch``: from starting that process until the frame, in seconds."""
    command = [sys.executable, "-m", "tests.benchmarks.first_frame", kind]
    if db is not None:
        command += ["--db", str(db), "--workdir", str(workdir)]
    # No settings file of this machine: the app starts on the benchmark's settings only.
    env = {**os.environ, "LINKER_CONFIG": str(workdir / "no-settings.toml")}
    launched = time.monotonic()
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["launch"] = result.pop("at") - launched
    return result


def first_frames(databases: dict[str, Path], workdir: Path, rounds: int) -> None:
    """Time the first frames, the kinds taking turns each round; print medians and ratios."""
    kinds: dict[str, Path | None] = {"empty": None}
    kinds.update({f"main {label}": path for label, path in databases.items()})
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind, db in kinds.items():
            runs[kind].append(first_frame(kind.split()[0], db, workdir))

    def median(kind: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[kind])

    def spread(kind: str) -> str:
        values = sorted(run["frame"] for run in runs[kind])
        return f"{values[0] * 1000:.1f} to {values[-1] * 1000:.1f} ms"

    empty, empty_launch = median("empty", "frame"), median("empty", "launch")
    print(
        f"empty Textual app, first frame:      median {_ms(empty)}   ({spread('empty')};"
        f" launch -> first frame {_ms(empty_launch)})"
    )
    for label in databases:
        kind = f"main {label}"
        first, launch = median(kind, "frame"), median(kind, "launch")
        print(
            f"{label:>2} appointments, main screen first frame: median {_ms(first)}"
            f"  = {first / empty:.2f}x empty app (target <= 1.5x)   ({spread(kind)})"
        )
        print(
            f"{label:>2} appointments, first page of requests listed: median"
            f" {_ms(median(kind, 'listed'))};  launch -> first frame {_ms(launch)}"
            f" = {launch / empty_launch:.2f}x the empty app's"
        )


async def run(workdir: Path, rounds: int, accepts: int) -> None:
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

    first_frames(databases, workdir, rounds)
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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--accepts", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.workdir, args.rounds, args.accepts))


if __name__ == "__main__":
    main()
