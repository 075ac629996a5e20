"""Benchmark: bytes the app writes to the terminal per cursor step (what crosses an SSH
link), this checkout against an older one, in the same run.

Run:  python -m tests.benchmarks.bench_ssh_bytes [--workdir DIR] [--before REF] [--steps N]

The demo practice (``linker-tui demo --no-tui``, built once into --workdir by each
checkout, for its own schema) is opened by
the real ``linker-tui`` command in a tmux pane of 80x24 (no PMS folder: no sync draws
meanwhile). Once the first rows are on screen, the sync at start has ended ("synced just now")
and the output has been quiet for a while,
``tmux pipe-pane`` records the raw bytes the app writes while:

* ``in view``: the cursor steps down one row at a time (one key, then wait until the
  output is quiet) through the rows in view, and back up (no scrolling);
* ``scrolling``: the same, but each step scrolls the list by a line (cursor at the bottom);
* ``burst``: N Down keys sent at once (as a slow link delivers them): how many bytes the
  app writes for the whole burst (frames coalesce when the newest state wins);
* ``idle``: nothing pressed, for as long as the in-view steps took (the clock and the
  live refresh: the noise in the figures above).

"before" is ``--before REF`` (default: the commit before issue 17's redraw work), checked
out into a temporary git worktree and run from there (its ``linker_tui`` first on
``PYTHONPATH``); "after" is this checkout. Prints bytes per step and the ratios.
"""

from __future__ import annotations

import argparse
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SESSION = "linker-bench-ssh"
WIDTH, HEIGHT = 80, 24
BEFORE = "4e875a3"
"""main before issue 17 (the list redrew every line on each cursor step)."""
QUIET = 0.4
"""Seconds without output that count as "the frame is drawn"."""
ROOT = Path(__file__).resolve().parents[2]


TMUX = ("tmux", "-L", SESSION)
"""A tmux server of its own: other sessions' benchmarks and tests start and stop theirs."""


def _tmux(*args: str) -> str:
    out = subprocess.run([*TMUX, *args], capture_output=True, text=True, check=True)
    return out.stdout


def _screen() -> list[str]:
    return _tmux("capture-pane", "-p", "-t", SESSION).splitlines()


def prepare(workdir: Path, source: Path) -> Path:
    """The demo database, built by the code in ``source`` (each checkout opens a database
    of its own schema), and a settings file opening it without a PMS folder."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    database = data / "demo" / "demo.db"
    demo_config = workdir / "demo.toml"
    demo_config.write_text(f'data_dir = "{data}"\n')
    if not database.exists():
        subprocess.run(
            [sys.executable, "-m", "linker_tui.cli.main", "demo", "--no-tui"],
            env={
                "LINKER_CONFIG": str(demo_config),
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(source),
            },
            cwd=source,
            check=True,
            capture_output=True,
        )
    config = workdir / "bench.toml"
    config.write_text(
        f'database_url = "sqlite:///{database}"\n'
        f'data_dir = "{data}"\n'
        'practice_name = "Maple Grove Dental"\n'
        'practice_timezone = "America/Toronto"\n'
    )
    return config


class Recorder:
    """The pane's raw output, recorded by ``tmux pipe-pane`` into a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def wait_quiet(self, timeout: float = 10.0) -> None:
        """Until nothing was written for :data:`QUIET` seconds."""
        deadline = time.monotonic() + timeout
        last, since = self.size(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.size()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= QUIET:
                return

    def steps(self, keys: list[str]) -> list[int]:
        """Bytes written for each key, each pressed once the last frame was drawn."""
        sizes = []
        for key in keys:
            before = self.size()
            _tmux("send-keys", "-t", SESSION, key)
            self.wait_quiet()
            sizes.append(self.size() - before)
        return sizes


def _synced(screen: list[str]) -> bool:
    """The status line says the sync at start has ended ("synced just now · …")."""
    return any(re.search(r"(?<!not )synced ", line) for line in screen) and not any(
        "syncing" in line for line in screen
    )


@contextmanager
def app_in_pane(command: str, record: Path) -> Iterator[Recorder]:
    """Start ``command`` in the pane; once a request row shows, the sync at start has
    ended and the output is quiet, record what it writes."""
    subprocess.run([*TMUX, "kill-session", "-t", SESSION], capture_output=True, check=False)
    _tmux("new-session", "-d", "-s", SESSION, "-x", str(WIDTH), "-y", str(HEIGHT), "sleep 600")
    _tmux("set-option", "-t", SESSION, "remain-on-exit", "on")  # a failed start stays visible
    _tmux("respawn-pane", "-k", "-t", SESSION, command)
    recorder = Recorder(record)
    try:
        deadline = time.monotonic() + 60
        while not any(line.startswith("11-") for line in _screen()):
            if time.monotonic() > deadline:
                raise TimeoutError("no request rows:\n" + "\n".join(_screen()))
            time.sleep(0.1)
        while not _synced(_screen()):  # the sync at start redraws the list when it ends
            if time.monotonic() > deadline:
                raise TimeoutError("the sync at start did not end:\n" + "\n".join(_screen()))
            time.sleep(0.1)
        _tmux("pipe-pane", "-t", SESSION, "-o", f"cat >> {shlex.quote(str(record))}")
        time.sleep(1.0)
        recorder.wait_quiet()
        yield recorder
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", SESSION], capture_output=True, check=False)


def measure(command: str, steps: int, record: Path) -> dict[str, float]:
    """Bytes per step in view, per scrolling step, for a burst, and idle (per second)."""
    with app_in_pane(command, record) as rec:
        body = 11  # rows in view at 80x24 less one: steps that never scroll
        start = time.monotonic()
        in_view = rec.steps(["Down"] * body + ["Up"] * body)
        took = time.monotonic() - start
        rec.steps(["Down"] * body)  # the cursor on the last row in view
        scrolling = rec.steps(["Down"] * min(steps, 20))
        rec.steps(["Home"])
        before = rec.size()
        _tmux("send-keys", "-t", SESSION, *(["Down"] * steps))
        rec.wait_quiet()
        burst = rec.size() - before
        before = rec.size()
        time.sleep(took)
        idle = rec.size() - before
    return {
        "in view, bytes/step": sum(in_view) / len(in_view),
        "in view, median step": statistics.median(in_view),
        "in view, largest step": max(in_view),
        "scrolling, bytes/step": sum(scrolling) / len(scrolling),
        f"burst of {steps} Down, bytes": burst,
        "idle, bytes/s": idle / took,
    }


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """``ref`` checked out in a temporary git worktree."""
    with tempfile.TemporaryDirectory(prefix="bench-ssh-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
            check=True,
            capture_output=True,
        )
        try:
            yield tree
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--before", default=BEFORE, help="git ref to compare with")
    parser.add_argument("--steps", type=int, default=40, help="Down keys in the burst")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    python = shlex.quote(sys.executable)

    def command(source: Path, name: str) -> str:
        config = prepare(workdir / name, source)
        env = f"env LINKER_CONFIG={shlex.quote(str(config))} TERM=xterm-256color"
        path = shlex.quote(str(source))
        return f"cd {path} && {env} PYTHONPATH={path} {python} -m linker_tui.cli.main"

    results: dict[str, dict[str, float]] = {}
    with checkout(args.before) as old:
        for name, source in (("before", old), ("after", ROOT), ("before ", old)):
            record = workdir / f"ssh-bytes-{name.strip()}.raw"
            record.unlink(missing_ok=True)
            results[name] = measure(command(source, name.strip()), args.steps, record)
    print(f"terminal {WIDTH}x{HEIGHT}, demo practice; before = {args.before}, after = this tree")
    for key in results["after"]:
        row = "  ".join(f"{name.strip()} {values[key]:8.0f}" for name, values in results.items())
        print(f"{key:28} {row}")
    for key in (
        "in view, bytes/step",
        "scrolling, bytes/step",
        f"burst of {args.steps} Down, bytes",
    ):
        before = min(results["before"][key], results["before "][key])
        print(f"{key}: after/before {results['after'][key] / before:.2f}x")


if __name__ == "__main__":
    main()
