"""Benchmark: launch → first request rows on screen, in a real terminal, against a minimal
Textual app's launch → first frame in the same run.

Run:  python -m tests.benchmarks.bench_launch [--workdir DIR] [--rounds N] [--floor]

Staff wait from typing ``linker-tui`` until the requests are listed. This starts the real
command in a tmux pane (120x40) on a prepared database (100k patients, 1k appointments,
10k pending requests, built once into --workdir, with every open request's patient ranking
stored as the app's first sync stores it), and polls ``tmux capture-pane -p``
until a request row is on the screen: Python's start, the imports, the schema check,
the first frame and the first page are all inside the clock. The baseline is the
smallest Textual app (a label and a footer, ``minimal_app.py``) started the same way,
until its label is on the screen. The two take turns, round after round; between
rounds the pane is killed and the benchmark waits until no process of the last round
is left. Prints the medians and their ratio (target: at most 2x).

``--floor`` also times ``floor_app.py`` in each round: the minimal app plus SQLAlchemy
Core, pydantic-settings and one query for the rows, i.e. what the libraries alone cost.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from linker_tui.common.actor import Actor
from linker_tui.common.clock import SystemClock
from linker_tui.store.db import make_engine
from linker_tui.sync.engine import SyncEngine, SyncOptions
from tests.benchmarks.build_db import build
from tests.benchmarks.process_tree import descendants

TZ = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
SESSION = "linker-bench-launch"
WIDTH, HEIGHT = 120, 40
POLL = 0.005
ROW = re.compile(r"^\d\d-\d\d \d\d:\d\d ")
"""A request row: it starts with the received date and time (``11-26 08:15``)."""


TMUX = ("tmux", "-L", SESSION)
"""A tmux server of its own: other sessions' benchmarks and tests start and stop theirs."""


def _tmux(*args: str) -> str:
    out = subprocess.run([*TMUX, *args], capture_output=True, text=True, check=True)
    return out.stdout


def _pane_pids() -> set[int]:
    """The pane's process and its descendants (the app's sync child included)."""
    return descendants(int(_tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip()))


def _quiet(pids: set[int], timeout: float = 15.0) -> None:
    """Wait until none of ``pids`` is alive."""
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def launch(command: str, shown: Callable[[list[str]], bool], timeout: float = 60.0) -> float:
    """Seconds from starting ``command`` in the pane until ``shown(lines)`` holds for the
    pane's text; then the command is ended and its processes waited for."""
    _tmux("respawn-pane", "-k", "-t", SESSION, "sleep 3600")  # a blank, idle pane
    time.sleep(0.2)
    start = time.monotonic()
    _tmux("respawn-pane", "-k", "-t", SESSION, command)
    deadline = start + timeout
    while True:
        lines = _tmux("capture-pane", "-p", "-t", SESSION).splitlines()
        if shown(lines):
            elapsed = time.monotonic() - start
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{command!r} showed nothing in time:\n" + "\n".join(lines))
        time.sleep(POLL)
    pids = _pane_pids()
    _tmux("respawn-pane", "-k", "-t", SESSION, "sleep 3600")
    _quiet(pids)
    return elapsed


def prepare(workdir: Path, *, ranked: bool = True) -> Path:
    """The database and the settings file the app starts on (built once). ``ranked``: as
    the app's first sync leaves it, every open request's patient ranking stored (the
    build leaves a third of them never ranked, as requests imported before the ranking
    on arrival)."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "launch-1k.db"
    if not db.exists():
        build(db, patients=100_000, appointments=1_000, requests=10_000, today=NOW.date(), tz=TZ)
    if ranked:
        _sync_rankings(f"sqlite:///{db}")
    config = workdir / "launch.toml"
    config.write_text(
        f'database_url = "sqlite:///{db}"\n'
        f'data_dir = "{workdir / "data"}"\n'
        'practice_name = "Bench Dental"\n'
        f'practice_timezone = "{TZ.key}"\n'
    )
    return config


def _sync_rankings(url: str) -> None:
    """A sync run without a PMS or an inbox: it ranks the open requests never ranked and
    stores their rankings (nothing when they all are)."""
    engine = make_engine(url)
    options = SyncOptions(TZ)
    summary = SyncEngine(engine, SystemClock(), Actor("bench", "bench"), options).run()
    if summary.detail.get("requests_ranked"):
        print(f"the sync ranked {summary.detail['requests_ranked']} requests never ranked")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--source",
        type=Path,
        help="run the app from this checkout (e.g. an older commit's, for a before/after)",
    )
    parser.add_argument(
        "--unranked",
        action="store_true",
        help="leave the requests never ranked as built (before this version's first sync; "
        "for an older --source, which ranked them on every start)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time floor_app.py (the minimal app + SQLAlchemy Core, pydantic-settings "
        "and one query for the rows): what the libraries cost before any row",
    )
    args = parser.parse_args()
    config = prepare(args.workdir.resolve(), ranked=not args.unranked)
    python = shlex.quote(sys.executable)
    env = f"env LINKER_CONFIG={shlex.quote(str(config))} TERM=xterm-256color"
    app = f"{env} {shlex.quote(str(Path(sys.executable).with_name('linker-tui')))}"
    if args.source is not None:  # run from there: its linker_tui is found first
        source = shlex.quote(str(args.source.resolve()))
        app = f"cd {source} && {env} {python} -m linker_tui.cli.main"
    minimal = f"{env} {python} -m tests.benchmarks.minimal_app"
    kinds: dict[str, tuple[str, Callable[[list[str]], bool]]] = {
        "minimal Textual app, launch -> first frame": (
            minimal,
            lambda lines: any("Textual is up" in line for line in lines),
        ),
        "linker-tui, launch -> first request rows": (
            app,
            lambda lines: any(ROW.match(line) for line in lines),
        ),
    }
    if args.floor:
        database = shlex.quote(f"sqlite:///{args.workdir.resolve() / 'launch-1k.db'}")
        kinds["floor app (Core query, no ORM), launch -> first rows"] = (
            f"{env} {python} -m tests.benchmarks.floor_app {database}",
            lambda lines: any("Floor is up" in line for line in lines),
        )
    subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    size = ("-x", str(WIDTH), "-y", str(HEIGHT))
    _tmux("new-session", "-d", "-s", SESSION, "-c", os.getcwd(), *size, "sleep 3600")
    _tmux("set-option", "-t", SESSION, "remain-on-exit", "on")  # a failed start stays visible
    os.environ.pop("NO_COLOR", None)
    try:
        launch(app, kinds["linker-tui, launch -> first request rows"][1])  # warm the caches
        runs: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(args.rounds):
            for kind, (command, shown) in kinds.items():
                runs[kind].append(launch(command, shown))
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    medians = {kind: statistics.median(values) for kind, values in runs.items()}
    for kind, values in runs.items():
        low, high = min(values) * 1000, max(values) * 1000
        print(f"{kind}: median {medians[kind] * 1000:.0f} ms ({low:.0f} to {high:.0f} ms)")
    baseline, app_median, *floor = medians.values()
    print(f"ratio: {app_median / baseline:.2f}x the minimal app (target <= 2x)")
    if floor:
        print(
            f"floor: {floor[0] / baseline:.2f}x the minimal app; linker-tui is "
            f"{app_median / floor[0]:.2f}x the floor"
        )


if __name__ == "__main__":
    main()
