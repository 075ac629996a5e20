"""Reads that only the newest asker waits for: the request list's pages; and the frames
held from a filter key until its page is drawn.

Staff typing in the filter ask for a page per key. A database query in a thread cannot
be stopped, so :class:`LatestOnly` runs one at a time: a read asked for while one is in
flight waits for it (the threads never pile up behind each other), only the newest of
the waiting ones then runs, and a result that is not the newest asked for is dropped,
never drawn over a newer one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

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


class FrameHold:
    """Holds the app's frames from a key until what it changes is drawn, for at most
    ``limit`` seconds: a filter key's typed character and the list it asks for reach the
    terminal in one frame, not the character first and the list a frame (or more) later.

    Held with Textual's ``App.batch_update`` (no frame is drawn while it lasts); released
    by :meth:`release` or by the limit, whichever comes first. Holding again while held
    keeps the first limit: fast typing never holds the frames longer than ``limit``."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._batch: AbstractContextManager[None] | None = None
        self._app: App[object] | None = None
        self._timer: Timer | None = None

    def hold(self, app: App[Any]) -> None:
        """Hold the frames (until :meth:`release` or the limit; not at all without one)."""
        if self._batch is not None or self.limit <= 0:
            return
        self._app = app
        self._batch = app.batch_update()
        self._batch.__enter__()
        self._timer = app.set_timer(self.limit, self.release, name="frame-hold")

    def release(self) -> None:
        """Let the frames be drawn again (the next one shows everything since the hold)."""
        batch, app, timer = self._batch, self._app, self._timer
        self._batch = self._app = self._timer = None
        if timer is not None:
            timer.stop()
        if batch is None or app is None:
            return
        batch.__exit__(None, None, None)
        if app.screen_stack:  # (none while the app closes)
            app.screen.check_idle()  # the screen draws what changed meanwhile
