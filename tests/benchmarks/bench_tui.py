"""Benchmark: first frame of the main screen, and Accept → candidates modal, at 1k and 1M
appointments (100k patients, 10k pending requests in both databases).

Run:  python -m tests.benchmarks.bench_tui [--workdir DIR] [--rounds N]

Prints the figures and the ratios the targets are about:
  * the main screen's first frame, vs an empty Textual app's first frame measured in the
    same run (target ≤ 1.5x); the first page of requests is listed right after that frame
    and that time is printed too;
  * Accept → the modal showing the candidates, median (target < 100 ms), and the ratio of
    the 1M database's median to the 1k database's (target ≤ 1.5).
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
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from linker_tui.actor import Actor
from linker_tui.clock import FixedClock
from linker_tui.config import Settings
from linker_tui.db import make_engine
from linker_tui.services import Services
from linker_tui.tui import app as tui_app
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.accept import Candidates, ExactMatch, NoMatch
from linker_tui.tui.modals.patient import PatientChooser
from linker_tui.tui.screens.main import MainScreen
from linker_tui.tui.widgets.bottom_bar import BottomBar
from linker_tui.tui.widgets.detail import DetailPane
from linker_tui.tui.widgets.request_table import RequestTable
from linker_tui.tui.widgets.top_bar import TopBar
from tests.benchmarks.build_db import build

TZ = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
SIZE = (120, 40)
JOBS = True  # the app as staff run it: scheduler, status line, live refresh


class EmptyApp(App[None]):
    """The baseline: a Textual app with a label and a footer."""

    def compose(self) -> ComposeResult:
        yield Static("hello")
        yield Footer()


class SameWidgetsApp(App[None]):
    """A second baseline: the main screen's widgets and stylesheet, with no data and no
    database — what Textual itself needs for this screen."""

    CSS_PATH = str(Path(tui_app.__file__).with_name("app.tcss"))

    def compose(self) -> ComposeResult:
        yield TopBar("Practice", "/ to filter", id="top")
        yield RequestTable(TZ, id="requests")
        yield DetailPane(TZ, id="detail")
        yield BottomBar(id="bottom")


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


class FrameClock:
    """When an app first composes a whole frame of a screen of ``kind``: the moment Textual
    hands that frame to the terminal driver (``App._display``; headless, the driver then
    writes nothing). Every app measured here, the baselines too, is timed this way."""

    def __init__(self, app: App[None], kind: type[Screen[object]]) -> None:
        self.at: float | None = None
        real = app._display

        def display(screen: Screen[object], renderable: object) -> None:
            if (
                self.at is None
                and renderable is not None
                and isinstance(screen, kind)
                and not app._batch_count
            ):
                self.at = time.perf_counter()
            real(screen, renderable)  # type: ignore[arg-type]

        app._display = display  # type: ignore[method-assign]


async def empty_first_frame(cls: type[App[None]] = EmptyApp) -> tuple[float, float]:
    """Seconds from start until a baseline app has drawn its first frame, and until its
    screen counts as mounted (``is_mounted``: the first frame and the mount handlers)."""
    await _settle()
    app = cls()
    frame = FrameClock(app, Screen)
    start = time.perf_counter()
    async with app.run_test(size=SIZE):
        await _wait(lambda: app.screen.is_mounted and frame.at is not None)
        mounted = time.perf_counter() - start
        assert frame.at is not None
        return frame.at - start, mounted


async def main_first_frame(db: Path, workdir: Path) -> tuple[float, float, float]:
    """Seconds from start until the main screen's first frame is drawn (header, filter
    line, the list's header saying it is loading, detail pane, status line, key bar), until
    the screen counts as mounted, and until the first page of requests is listed (loaded
    off the UI thread right after)."""
    app = LinkerApp(_services(db, workdir), background_jobs=JOBS)
    frame = FrameClock(app, MainScreen)
    await _settle()
    start = time.perf_counter()
    async with app.run_test(size=SIZE):
        await _wait(
            lambda: (
                isinstance(app.screen, MainScreen)
                and app.screen.is_mounted
                and frame.at is not None
            )
        )
        mounted = time.perf_counter() - start
        await _wait(lambda: isinstance(app.screen, MainScreen) and app.screen.table.row_count > 0)
        listed = time.perf_counter() - start
        # Let the queries under way (detail, sync status) finish here, not in the threads
        # of the next round's first frame.
        await app.workers.wait_for_complete()
    assert frame.at is not None
    return frame.at - start, mounted, listed


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

    empty_runs = [await empty_first_frame() for _ in range(rounds)]
    empty = statistics.median(r[0] for r in empty_runs)
    empty_mounted = statistics.median(r[1] for r in empty_runs)
    print(
        f"empty Textual app, first frame:      median {_ms(empty)}"
        f"   (screen mounted: {_ms(empty_mounted)})"
    )
    same_runs = [await empty_first_frame(SameWidgetsApp) for _ in range(rounds)]
    same = statistics.median(r[0] for r in same_runs)
    same_mounted = statistics.median(r[1] for r in same_runs)
    print(
        f"same widgets, no data, first frame:   median {_ms(same)}  = {same / empty:.2f}x"
        f" empty app   (mounted: {_ms(same_mounted)} = {same_mounted / empty_mounted:.2f}x)"
    )
    accept_medians = {}
    for label, path in databases.items():
        frames = [await main_first_frame(path, workdir) for _ in range(rounds)]
        first = statistics.median(f[0] for f in frames)
        mounted = statistics.median(f[1] for f in frames)
        listed = statistics.median(f[2] for f in frames)
        print(
            f"{label:>2} appointments, main screen first frame: median {_ms(first)}"
            f"  = {first / empty:.2f}x empty app (target <= 1.5x)"
            f"   (mounted: {_ms(mounted)} = {mounted / empty_mounted:.2f}x)"
        )
        print(
            f"{label:>2} appointments, first page of requests listed: median {_ms(listed)}"
            f"  = {listed / empty:.2f}x empty app"
        )
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
