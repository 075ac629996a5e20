"""A process and its descendants, read from ``/proc`` (Linux): who is alive, and how much
memory each holds. Used by the benchmarks that run an app in a tmux pane."""

from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> set[int]:
    """``pid`` and every live process below it (children of all its threads)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:  # the thread or the process ended meanwhile
                continue
    return found


def status_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of ``/proc/<pid>/status`` in KiB (``VmRSS`` resident now,
    ``VmHWM`` its peak); 0 when the process has ended."""
    return _field_kib(f"/proc/{pid}/status", field)


def pss_kib(pid: int) -> int:
    """The process's proportional set size in KiB (``/proc/<pid>/smaps_rollup``): its
    resident memory with each page shared with other processes counted in part, so that
    the figures of several processes add up to the memory they take together."""
    return _field_kib(f"/proc/{pid}/smaps_rollup", "Pss")


def _field_kib(path: str, field: str) -> int:
    try:
        text = Path(path).read_text()
    except OSError:  # the process has ended
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
