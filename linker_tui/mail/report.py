"""What a run of the outbox relay did (:class:`RelayReport`): a light module, so the app
and the CLI read a report without importing the relay, the mail transport or the ORM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    """What one attempt did to one row."""

    SENT = "sent"
    RETRY = "retry"  # temporary failure, queued again for later
    FAILED = "failed"  # permanent failure, or out of attempts
    CANCELLED = "cancelled"  # not sent on purpose (e.g. the patient's no-email flag)


@dataclass(frozen=True)
class RelayResult:
    """One row's attempt."""

    outbox_id: int
    outcome: Outcome
    reason: str = ""
    next_attempt_at: datetime | None = None
    code: int | None = None
    """The SMTP reply code of a failure, when there was one."""


@dataclass(frozen=True)
class RelayReport:
    """How a relay run went."""

    results: tuple[RelayResult, ...] = ()
    stopped: str = ""  # why the run stopped early (server unreachable, login refused, …)

    def _count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def sent(self) -> int:
        """Emails handed to the server (or written) in this run."""
        return self._count(Outcome.SENT)

    @property
    def retrying(self) -> int:
        """Emails that failed for now and are queued again."""
        return self._count(Outcome.RETRY)

    @property
    def failed(self) -> int:
        """Emails that failed for good in this run (permanent error or out of attempts)."""
        return self._count(Outcome.FAILED)

    @property
    def cancelled(self) -> int:
        """Emails cancelled at send time (e.g. the patient asked not to be emailed)."""
        return self._count(Outcome.CANCELLED)

    def summary(self) -> str:
        """``sent 3, retrying 1, failed 0, cancelled 0``."""
        text = (
            f"sent {self.sent}, retrying {self.retrying}, failed {self.failed}, "
            f"cancelled {self.cancelled}"
        )
        return f"{text} (stopped: {self.stopped})" if self.stopped else text
