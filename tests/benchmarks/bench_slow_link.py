"""Benchmark: over a slow link, does the newest state win? Holding Down (keys at the
keyboard's repeat rate) or a burst of Downs (keys arriving together), through a link that
carries the app's output at a few KB/s.

Run:  python -m tests.benchmarks.bench_slow_link [--workdir DIR] [--before REF]
          [--rate BYTES_PER_S] [--keys N]

The real ``linker-tui`` runs on the demo practice (as in ``bench_ssh_bytes``) in a
pseudo-terminal of 80x24 whose output is read at ``--rate`` bytes per second, as an SSH
link delivers it: what the app writes faster waits in the kernel's buffer (as in sshd's
and TCP's), nothing is dropped. Once the first rows are on screen, the sync at start has
ended and the output is quiet, N Down keys are sent:

* ``held``: one every 1/30 s (a held key's auto-repeat);
* ``burst``: all at once (what a slow uplink delivers after a stall).

For each: the detail pane's paints (each shows one request id: how many of the N
intermediate states crossed the link), the bytes, and **catch-up**: from the last key sent
until the far end has received the final row's detail (the screen is right again).
"before" is ``--before REF`` (default main) checked out in a temporary git worktree, run
before and after this checkout in the same run.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from tests.benchmarks.bench_ssh_bytes import checkout, prepare

WIDTH, HEIGHT = 80, 24
REPEAT = 1 / 30
"""A held key's repeat interval (30 per second, a common keyboard setting)."""
DOWN = b"\x1b[B"
HOME = b"\x1b[H"
QUIET = 0.6


class Link:
    """The app in a pseudo-terminal; its output read at ``rate`` bytes per second (or as
    fast as it comes while ``rate`` is 0)."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        self.rate = 0.0
        self.received = bytearray()
        self.times: list[tuple[float, int]] = []
        """(when, total bytes received) after each read."""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        chunk = 256
        while True:
            try:
                data = os.read(self.master, chunk)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.received += data
                self.times.append((time.monotonic(), len(self.received)))
            if self.rate:
                time.sleep(len(data) / self.rate)

    def size(self) -> int:
        with self._lock:
            return len(self.received)

    def text(self, start: int = 0) -> bytes:
        with self._lock:
            return bytes(self.received[start:])

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_for(self, pattern: bytes, start: int = 0, timeout: float = 90.0) -> float:
        """When the regular expression ``pattern`` was first received after byte ``start``."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while time.monotonic() < deadline:
            with self._lock:
                found = compiled.search(self.received, start)
                if found:
                    return next(t for t, total in self.times if total >= found.end())
            time.sleep(0.01)
        raise TimeoutError(f"{pattern!r} not received")

    def wait_quiet(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last, since = self.size(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if self.size() != last:
                last, since = self.size(), time.monotonic()
            elif time.monotonic() - since >= QUIET:
                return

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self.master)


def _last_status(output: bytes) -> bytes:
    """The sync part of the status line as last written ("syncing…", "synced just now")."""
    found = re.findall(rb"syncing|synced [a-z0-9 ]+", output)
    return found[-1].strip() if found else b""


def _row_id(database: Path, index: int) -> str:
    """The request id shown on row ``index`` of the list (open requests, oldest first)."""
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT external_id FROM online_request WHERE state = 'pending'"
            " ORDER BY received_at, id LIMIT 1 OFFSET ?",
            (index,),
        ).fetchone()
    return str(row[0])


def measure(source: Path, workdir: Path, rate: float, keys: int) -> dict[str, float]:
    """Catch-up, paints and bytes for a held key and a burst, through the slow link."""
    shutil.rmtree(workdir, ignore_errors=True)  # a new demo: its sync at start says "just now"
    config = prepare(workdir, source)
    database = workdir / "data" / "demo" / "demo.db"
    final = _row_id(database, keys).encode()
    env = {
        "LINKER_CONFIG": str(config),
        "TERM": "xterm-256color",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(source),
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    link = Link([sys.executable, "-m", "linker_tui.cli.main"], env, source)
    results: dict[str, float] = {}
    try:
        link.wait_for(rb"11-")  # the first rows
        deadline = time.monotonic() + 90
        while _last_status(link.text()) != b"synced just now":
            if time.monotonic() > deadline:
                raise TimeoutError("the sync at start did not end")
            time.sleep(0.1)
        link.wait_quiet()
        for mode in ("held", "burst"):
            link.send(HOME)
            link.wait_quiet()
            link.rate = rate
            start = link.size()
            if mode == "held":
                for _ in range(keys):
                    link.send(DOWN)
                    time.sleep(REPEAT)
            else:
                link.send(DOWN * keys)
            sent = time.monotonic()
            shown = link.wait_for(re.escape(final) + rb"(?!\d)", start)
            link.wait_quiet()
            link.rate = 0
            out = link.text(start)
            results[f"{mode}: catch-up, s"] = shown - sent
            results[f"{mode}: detail paints"] = len(re.findall(rb"REQ-\d{4}", out))
            results[f"{mode}: bytes"] = len(out)
    finally:
        link.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument("--before", default="main", help="git ref to compare with")
    parser.add_argument("--rate", type=float, default=4000, help="link bytes per second")
    parser.add_argument("--keys", type=int, default=40, help="Down keys (the demo has 46 rows)")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    root = Path(__file__).resolve().parents[2]
    results: dict[str, dict[str, float]] = {}
    with checkout(args.before) as old:
        for name, source in (("before", old), ("after", root)):
            results[name] = measure(source, workdir / f"slow-{name}", args.rate, args.keys)
    print(
        f"terminal {WIDTH}x{HEIGHT}, demo practice, link {args.rate:.0f} bytes/s, "
        f"{args.keys} Downs; before = {args.before}, after = this tree"
    )
    for key in results["after"]:
        row = "  ".join(f"{name} {values[key]:8.2f}" for name, values in results.items())
        print(f"{key:28} {row}")


if __name__ == "__main__":
    main()
