"""The practice: the details that go into its emails, and how its local time is written."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


class PracticeInfo:
    """The practice details that go into confirmation emails."""

    def __init__(
        self,
        name: str,
        address: str = "",
        phone: str = "",
        email: str = "reception@practice.invalid",  # the default of Settings.practice_email
    ) -> None:
        self.name, self.address, self.phone, self.email = name, address, phone, email


def format_local(moment: datetime | None, tz: ZoneInfo) -> str:
    """``Thu 2026-12-03 09:30`` in the practice's timezone."""
    if moment is None:
        return "-"
    return moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")
