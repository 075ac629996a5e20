"""Stopping a sync between phases, and file I/O that cannot hang it.

A sync checks a :class:`StopFlag` between phases and every few thousand rows; the
scheduler sets it when the app quits, so the run stops (its transaction rolled back)
within a fraction of a second. File-system calls run in a daemon helper thread with a
timeout (:func:`run_io`): a hung network share makes the run fail with a clear message
instead of freezing it, and never keeps the process from exiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from linker_tui.store.enums import SyncRunStatus

T = TypeVar("T")

_POLL = 0.05


class SyncCancelled(Exception):
    """The run was asked to stop; nothing it did was kept."""


class SyncTimeout(OSError):
    """A file-system call took longer than ``sync_io_timeout_seconds``."""


class StopFlag:
    """Set from another thread to stop a running sync at its next check."""

    def __init__(self, event: threading.Event | None = None) -> None:
        self.event = event if event is not None else threading.Event()

    @property
    def is_set(self) -> bool:
        """Whether stopping was asked for."""
        return self.event.is_set()

    def set(self) -> None:
        """Ask the run to stop."""
        self.event.set()

    def check(self) -> None:
        """Raise :class:`SyncCancelled` if stopping was asked for."""
        if self.event.is_set():
            raise SyncCancelled("the sync was stopped")


@dataclass(frozen=True)
class Refused:
    """Why a run did not get its turn, and the status its run record gets."""

    status: SyncRunStatus
    reason: str


BUSY = Refused(SyncRunStatus.SKIPPED, "a sync is already running")
WAITED_IN_VAIN = Refused(SyncRunStatus.CANCELLED, "stopped while waiting")


def take_turn(lock: threading.Lock, stop: StopFlag, wait: bool) -> Refused | None:
    """Acquire ``lock`` for a run: at once, or (``wait``) when the run holding it ends.

    Returns None when acquired (the caller releases it), else why not: :data:`BUSY`
    (another run holds it and ``wait`` is false) or :data:`WAITED_IN_VAIN` (``stop`` was
    set while waiting)."""
    if lock.acquire(blocking=False):
        return None
    if not wait:
        return BUSY
    while not lock.acquire(timeout=_POLL):
        if stop.is_set:
            return WAITED_IN_VAIN
    return None


def run_io(func: Callable[[], T], timeout: float, stop: StopFlag, what: str) -> T:
    """Run ``func`` in a daemon thread; give up after ``timeout`` s or when ``stop`` is set.

    The thread of a call given up on is left to finish (or hang) on its own; being a
    daemon it never delays the process's exit.
    """
    stop.check()
    values: list[T] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            values.append(func())
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name=f"sync-io: {what}", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not done.wait(_POLL):
        stop.check()
        if time.monotonic() >= deadline:
            raise SyncTimeout(f"{what}: no answer within {timeout:g} s")
    if errors:
        raise errors[0]
    return values[0]
