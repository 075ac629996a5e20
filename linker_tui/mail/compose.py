"""Compose the confirmation email for a linked request from a Jinja2 template."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

_env = Environment(
    loader=PackageLoader("linker_tui", "templates"),
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
)


def spoken_datetime(moment: datetime, tz: ZoneInfo) -> str:
    """``Thursday, December 3, 2026 at 9:30 AM`` in the practice's timezone."""
    local = moment.astimezone(tz)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%A, %B} {local.day}, {local.year} at {hour}:{local:%M %p}"


@dataclass(frozen=True)
class ConfirmationFacts:
    """What the confirmation email says: always the *scheduled* appointment."""

    patient_name: str
    scheduled_start: datetime
    duration_min: int
    provider: str
    requested_start: datetime
    practice_name: str
    practice_address: str = ""
    practice_phone: str = ""


@dataclass(frozen=True)
class ComposedEmail:
    """Subject and plain-text body."""

    subject: str
    body_text: str


def compose_confirmation(facts: ConfirmationFacts, tz: ZoneInfo) -> ComposedEmail:
    """Render the confirmation for the scheduled appointment."""
    when = spoken_datetime(facts.scheduled_start, tz)
    requested = facts.requested_start.astimezone(tz)
    scheduled = facts.scheduled_start.astimezone(tz)
    changed = ""
    if requested.date() != scheduled.date():
        changed = "another day"
    elif requested.time() != scheduled.time():
        changed = "another time"
    body = _env.get_template("confirmation.txt.j2").render(
        patient_name=facts.patient_name,
        practice_name=facts.practice_name,
        practice_address=facts.practice_address,
        practice_phone=facts.practice_phone,
        when=when,
        provider=facts.provider,
        duration_min=facts.duration_min,
        changed=changed,
        requested_when=spoken_datetime(facts.requested_start, tz),
    )
    subject = f"Your appointment at {facts.practice_name}: {when}"
    return ComposedEmail(subject=subject, body_text=body)
