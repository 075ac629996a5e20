"""The mail server is away for every message: the relay pauses instead of charging each
queued email an attempt.

A failure is the server's, not the message's, when it comes before any message was handed
over (the connection refused or timed out, TLS or the login refused), when the server says
421 (closing), or when the same 4xx comes back for every recipient of a run. Then the row
that met it gets its attempt back and waits for the end of the pause, which doubles with
every server failure in a row (``RelayPolicy.backoff``) and ends with the first message
the server takes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SAME_CODE_RUN = 3
"""This many messages in a row refused with the same 4xx at the start of a run (or every
message of a shorter run, at least two) count as the server's failure."""


@dataclass(frozen=True)
class PauseState:
    """Until when the relay waits, and why."""

    until: datetime
    reason: str
    failures: int


class ServerPause:
    """The relay's pause (one per process: ``Services`` keeps it across relay runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures = 0
        self._state: PauseState | None = None

    def active(self, now: datetime) -> PauseState | None:
        """The pause in force at ``now``, if any."""
        with self._lock:
            state = self._state
        return state if state is not None and now < state.until else None

    def failed(self, now: datetime, reason: str, backoff: Callable[[int], timedelta]) -> PauseState:
        """The server failed again: pause for ``backoff(failures in a row)``."""
        with self._lock:
            self._failures += 1
            self._state = PauseState(now + backoff(self._failures), reason, self._failures)
            return self._state

    def cleared(self) -> None:
        """The server took a message: no pause, the count starts again."""
        with self._lock:
            self._failures = 0
            self._state = None


def same_code_streak(codes: Sequence[int | None], *, complete: bool) -> bool:
    """Whether temporary reply ``codes`` of a run's messages, in order, show the server
    refusing everyone: the first :data:`SAME_CODE_RUN` the same 4xx, or (``complete``: the
    run is over) every one of at least two."""
    if len(codes) < 2 or codes[0] is None or not 400 <= codes[0] < 500:
        return False
    if any(code != codes[0] for code in codes):
        return False
    return len(codes) >= SAME_CODE_RUN or complete
