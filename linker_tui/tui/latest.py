"""Reads that only the newest asker waits for: the request list's pages.

Staff typing in the filter ask for a page per key. A database query in a thread cannot
be stopped, so :class:`LatestOnly` runs one at a time: a read asked for while one is in
flight waits for it (the threads never pile up behind each other), only the newest of
the waiting ones then runs, and a result that is not the newest asked for is dropped,
never drawn over a newer one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestOnly(Generic[T]):
    """Run blocking reads off the UI thread, one at a time, newest first."""

    def __init__(self) -> None:
        self._asked = 0
        self._running: asyncio.Future[T] | None = None

    @property
    def busy(self) -> bool:
        """Whether a read is in flight."""
        return self._running is not None

    async def run(self, read: Callable[[], T]) -> T | None:
        """``read()`` in a thread; None if a newer read was asked for meanwhile (this one
        was then skipped or its result dropped)."""
        self._asked += 1
        ticket = self._asked
        while self._running is not None:
            await asyncio.wait([self._running])  # not cancelled by our cancellation
            if ticket != self._asked:
                return None
        running = asyncio.get_running_loop().run_in_executor(None, read)
        self._running = running
        running.add_done_callback(self._finished)
        result = await asyncio.shield(running)
        return result if ticket == self._asked else None

    def _finished(self, future: asyncio.Future[T]) -> None:
        if self._running is future:
            self._running = None
        if not future.cancelled():
            future.exception()  # retrieved here: a dropped read's error is not logged
