"""Deliver queued confirmation emails (the original entry points, kept for callers).

The work is done by :mod:`linker_tui.mail.relay` (claim with a lease, send, record,
retry with backoff) through a mailer from :mod:`linker_tui.mail.transport`.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from linker_tui.common.clock import Clock
from linker_tui.mail.relay import OutboxRelay, RelayPolicy
from linker_tui.mail.report import RelayReport
from linker_tui.mail.transport import DeliveryFailure, FileMailer, Mailer, SmtpMailer

DeliveryReport = RelayReport

__all__ = [
    "DeliveryFailure",
    "DeliveryReport",
    "FileMailer",
    "Mailer",
    "SmtpMailer",
    "deliver_queued",
]


def deliver_queued(
    engine: Engine,
    mailer: Mailer,
    clock: Clock,
    sender: str,
    sender_name: str = "",
    policy: RelayPolicy | None = None,
) -> RelayReport:
    """Send every due email once through ``mailer`` (one relay run)."""
    relay = OutboxRelay(
        engine, mailer, clock, sender=sender, sender_name=sender_name, policy=policy
    )
    return relay.run_once()
