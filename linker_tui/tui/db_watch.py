"""What the app says while its database is away or slow (see :mod:`linker_tui.common.outage`).

One steady state on the status line instead of an error pop-up per failed read:
"! database unreachable since 10:42 — retrying" while it is away, "waiting for the
database…" when a read has waited a second; decisions are refused with a message while
it is away; the list is read again when it is back (reads go on every few seconds, so
that happens by itself).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from linker_tui.common.outage import DatabaseUnavailable, HealthState, health, unavailable
from linker_tui.common.text import clean

CHECK_SECONDS = 0.5
"""How often the screen looks at the database's state (no query: a record in memory)."""


def status_text(state: HealthState, tz: ZoneInfo) -> tuple[str, bool] | None:
    """The status line while the database is away or slow, and whether it is a problem:
    ``("! database unreachable since 10:42 — retrying", True)``, ``("waiting for the
    database…", False)``; None when all is well."""
    if state.down_since is not None:
        since = state.down_since.astimezone(tz).strftime("%H:%M")
        return f"! database unreachable since {since} — retrying", True
    if state.waiting:
        return "waiting for the database…", False
    return None


class DatabaseWatch:
    """The database's state as the screen shows it."""

    def __init__(self, engine: Engine, tz: ZoneInfo) -> None:
        self._health = health(engine)
        self.tz = tz
        self._was_down = False
        self._seen: tuple[str, bool] | None = None

    def status(self) -> tuple[str, bool] | None:
        """The status line's text now (None: say what you normally say)."""
        return status_text(self._health.state(), self.tz)

    def changed(self) -> bool:
        """Whether :meth:`status` says something else than when last asked here (no query:
        cheap enough for a timer)."""
        now = self.status()
        if now == self._seen:
            return False
        self._seen = now
        return True

    def came_back(self) -> bool:
        """True once, when the database answers again after being away."""
        down = self._health.state().down_since is not None
        back = self._was_down and not down
        self._was_down = down
        return back

    def refusal(self) -> str | None:
        """Why a decision cannot be made now (the database is away), or None."""
        state = self._health.state()
        if state.down_since is None:
            return None
        since = state.down_since.astimezone(self.tz).strftime("%H:%M")
        what = f" ({state.error.what})" if state.error is not None else ""
        return clean(
            f"The database is unreachable since {since}{what}. Nothing was changed; "
            "decide again when the status line no longer says so."
        )


def outage_of(error: BaseException | None) -> DatabaseUnavailable | None:
    """The database outage behind a worker's error, if that is what it was."""
    return unavailable(error)


def failed_decision(error: DatabaseUnavailable) -> str:
    """What staff read when the database went away during a decision."""
    return clean(
        f"The database could not be reached ({error.what}): this step was not saved. "
        "Try again when the status line no longer says it is unreachable."
    )
