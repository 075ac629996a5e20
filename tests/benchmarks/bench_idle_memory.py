"""Benchmark: the idle app's memory in a real terminal, against the minimal Textual app's
in the same run (issue 19, item 3: under 100 MiB in total, no process waiting when there
is nothing to do).

Run:  python -m tests.benchmarks.bench_idle_memory [--workdir DIR] [--seconds S]
      [--interval-minutes M] [--source CHECKOUT]

The demo practice is built into --workdir (the bundled export, its requests imported),
then ``linker-tui`` is started in a tmux pane (80x24) on that database with the demo
export as its PMS folder and a scheduled sync every M minutes (default 0.25: one every
15 s, so that a short window sees several). Once its request rows are on the screen, the
resident memory (``VmRSS``) of the app and of every process below it is sampled every
50 ms for S seconds (default 75). The baseline is ``minimal_app.py`` (a label and a
footer), sampled the same way in the same pane for a few seconds.

Prints each one's peak and median, the app's with and without its children, the sync
runs the window saw (from the database), and every child process seen with how long it
lived: between syncs no process should be left waiting.
"""

from __future__ import annotations

import argparse
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from linker_tui.demo import build_demo, demo_data_dir, read_practice, week_shift
from linker_tui.store.db import make_engine
from tests.benchmarks.process_tree import descendants, pss_kib, status_kib

SESSION = "linker-bench-idle"
TMUX = ("tmux", "-L", SESSION)
WIDTH, HEIGHT = 80, 24
SAMPLE = 0.05
BASELINE_SECONDS = 5.0


def _tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True, check=True).stdout


@dataclass
class Samples:
    """What the sampling saw, per sample (KiB): the RSS of the app and of everything
    below it added up (``total``; pages shared between processes counted in each), the
    same as proportional set sizes (``pss``: shared pages counted once in all), the app's
    own RSS, and whether a process besides the app was alive; and when each such process
    was first and last seen (seconds from the start)."""

    total: list[int] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)
    app: list[int] = field(default_factory=list)
    busy: list[bool] = field(default_factory=list)
    children: dict[int, tuple[float, float]] = field(default_factory=dict)

    def with_child(self) -> float:
        """The share of samples in which a process besides the app was alive."""
        return sum(self.busy) / len(self.busy)

    def quiet(self) -> list[int]:
        """``total`` of the samples in which the app was alone."""
        return [total for total, busy in zip(self.total, self.busy, strict=True) if not busy]


def sample(pane_pid: int, seconds: float) -> Samples:
    """Sample the pane's process tree every 50 ms for ``seconds``."""
    found = Samples()
    start = time.monotonic()
    while (now := time.monotonic() - start) < seconds:
        pids = descendants(pane_pid)
        sizes = {pid: status_kib(pid) for pid in pids}
        found.app.append(sizes.get(pane_pid, 0))
        found.total.append(sum(sizes.values()))
        found.pss.append(sum(pss_kib(pid) for pid in pids))
        found.busy.append(len(pids) > 1)
        for pid in pids - {pane_pid}:
            first, _ = found.children.get(pid, (now, now))
            found.children[pid] = (first, now)
        time.sleep(SAMPLE)
    return found


def run_in_pane(command: str, ready: str, seconds: float) -> Samples:
    """Start ``command`` in the pane, wait until ``ready`` is on the screen, sample."""
    _tmux("respawn-pane", "-k", "-t", SESSION, command)
    deadline = time.monotonic() + 60
    while ready not in _tmux("capture-pane", "-p", "-t", SESSION):
        if time.monotonic() > deadline:
            raise TimeoutError(_tmux("capture-pane", "-p", "-t", SESSION))
        time.sleep(0.05)
    pane_pid = int(_tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip())
    found = sample(pane_pid, seconds)
    _tmux("respawn-pane", "-k", "-t", SESSION, "sleep 3600")
    time.sleep(0.5)
    return found


def prepare(workdir: Path, interval_minutes: float) -> tuple[Path, Path]:
    """The demo database and a settings file for it; returns (settings, database)."""
    workdir.mkdir(parents=True, exist_ok=True)
    folder = demo_data_dir()
    practice = read_practice(folder)
    database = workdir / "idle.db"
    engine = make_engine(f"sqlite:///{database}")
    build_demo(engine, folder, date.today(), inbox_dir=workdir / "inbox")
    engine.dispose()
    shift = week_shift(practice.export_date, date.today()).days
    config = workdir / "idle.toml"
    config.write_text(
        f'database_url = "sqlite:///{database}"\n'
        f'data_dir = "{workdir / "data"}"\n'
        f'pms_export_dir = "{folder}"\n'
        f'inbox_dir = "{workdir / "inbox"}"\n'
        f'outbox_dir = "{workdir / "outbox"}"\n'
        'mail_backend = "file"\n'
        f"demo_shift_days = {shift}\n"
        f"sync_interval_minutes = {interval_minutes}\n"
        f"practice_name = {practice.name!r}\n"
        f'practice_timezone = "{practice.timezone}"\n'
    )
    return config, database


def _sync_runs(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM sync_run").fetchone()[0])


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _report(label: str, found: Samples) -> None:
    print(f"{label}:")
    figures = {
        "RSS, app and children added up": found.total,
        "PSS, app and children added up": found.pss,
        "RSS of the app alone": found.app,
        "RSS while no other process was alive": found.quiet(),
    }
    for name, values in figures.items():
        if values:
            peak, median = max(values), statistics.median(values)
            print(f"  {name}: peak {_mib(peak)}, median {_mib(median)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out/idle"))
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--interval-minutes", type=float, default=0.25)
    parser.add_argument("--source", type=Path, help="run the app from this checkout")
    args = parser.parse_args()
    config, database = prepare(args.workdir.resolve(), args.interval_minutes)
    python = shlex.quote(sys.executable)
    env = f"env LINKER_CONFIG={shlex.quote(str(config))} TERM=xterm-256color"
    app = f"{env} {shlex.quote(str(Path(sys.executable).with_name('linker-tui')))}"
    if args.source is not None:
        source = shlex.quote(str(args.source.resolve()))
        app = f"cd {source} && exec {env} {python} -m linker_tui.cli.main"
    subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    size = ("-x", str(WIDTH), "-y", str(HEIGHT))
    _tmux("new-session", "-d", "-s", SESSION, *size, "sleep 3600")
    try:
        minimal = run_in_pane(
            f"{env} {python} -m tests.benchmarks.minimal_app", "Textual is up", BASELINE_SECONDS
        )
        before = _sync_runs(database)
        idle = run_in_pane(app, "REQ-", args.seconds)
        runs = _sync_runs(database) - before
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}")
    _report(f"minimal Textual app ({BASELINE_SECONDS:.0f} s)", minimal)
    _report(f"linker-tui, idle {args.seconds:.0f} s, {runs} sync runs", idle)
    print(f"ratio: {max(idle.total) / max(minimal.total):.2f}x the minimal app's peak RSS")
    print(f"a process besides the app alive in {idle.with_child():.1%} of the samples")
    for pid, (first, last) in sorted(idle.children.items(), key=lambda item: item[1]):
        print(f"  child {pid}: seen from {first:.1f} s to {last:.1f} s ({last - first:.2f} s)")
    print("target: under 100 MiB in total, no process waiting between syncs")


if __name__ == "__main__":
    main()
