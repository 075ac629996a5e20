"""Compose the confirmation email for a linked request: subject, plain text and HTML from
Jinja2 templates, and an iCalendar (``.ics``) invitation for the *scheduled* appointment.

Templates are looked up in the practice's own folder first (setting ``template_dir``), then
in the packaged ``linker_tui/templates``. Names ending ``.html.j2`` are autoescaped (patient
names may contain ``<``, ``&``); the text and subject templates are not.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

TEXT_TEMPLATE = "confirmation.txt.j2"
HTML_TEMPLATE = "confirmation.html.j2"
SUBJECT_TEMPLATE = "confirmation.subject.j2"
CORRECTION_TEXT_TEMPLATE = "correction.txt.j2"
CORRECTION_HTML_TEMPLATE = "correction.html.j2"
CORRECTION_SUBJECT_TEMPLATE = "correction.subject.j2"
FALLBACK_DOMAIN = "linker-tui.invalid"
PRODID = "-//linker-tui//appointment confirmation//EN"


def make_environment(template_dir: Path | None = None) -> Environment:
    """A sandboxed Jinja2 environment: ``template_dir`` first, the packaged templates second."""
    loaders: list[BaseLoader] = []
    if template_dir is not None:
        loaders.append(FileSystemLoader(str(Path(template_dir).expanduser())))
    loaders.append(PackageLoader("linker_tui", "templates"))
    return SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2", "htm.j2", "html", "htm"),
            disabled_extensions=(),
            default_for_string=False,
            default=False,
        ),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )


@functools.cache
def default_environment() -> Environment:
    """The packaged templates only (built once)."""
    return make_environment(None)


def spoken_datetime(moment: datetime, tz: ZoneInfo) -> str:
    """``Thursday, December 3, 2026 at 9:30 AM`` in the practice's timezone."""
    local = moment.astimezone(tz)
    return f"{spoken_date(local, tz)} at {spoken_time(local, tz)}"


def spoken_date(moment: datetime, tz: ZoneInfo) -> str:
    """``Thursday, December 3, 2026`` in the practice's timezone."""
    local = moment.astimezone(tz)
    return f"{local:%A, %B} {local.day}, {local.year}"


def spoken_time(moment: datetime, tz: ZoneInfo) -> str:
    """``9:30 AM`` in the practice's timezone."""
    local = moment.astimezone(tz)
    hour = local.strftime("%I").lstrip("0")
    return f"{hour}:{local:%M %p}"


def practice_domain(email_address: str) -> str:
    """The domain of the practice's email address (for Message-IDs and calendar UIDs)."""
    domain = email_address.strip().rpartition("@")[2].lower()
    domain = re.sub(r"[^a-z0-9.-]", "", domain.encode("idna").decode("ascii") if domain else "")
    return domain.strip(".-") or FALLBACK_DOMAIN


def appointment_uid(appointment_pms_id: str, domain: str) -> str:
    """The calendar UID of an appointment, the same in every email about it."""
    local = re.sub(r"[^A-Za-z0-9._-]", "_", appointment_pms_id) or "unknown"
    return f"appointment-{local}@{domain}"


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
    practice_email: str = ""
    appointment_pms_id: str = ""
    sequence: int = 0
    stamp: datetime | None = None  # when it was composed (the calendar's DTSTAMP)
    requested_provider: str = ""  # the dentist asked for ("" when any)
    replaces_start: datetime | None = None
    """A correction: the time the earlier confirmation said (the patient has it)."""
    uid: str = ""
    """The calendar entry to update (a correction: the earlier email's); default: the
    appointment's own UID."""


@dataclass(frozen=True)
class CalendarEntry:
    """What an email's invitation put in the patient's calendar."""

    uid: str
    sequence: int
    start: datetime | None


@dataclass(frozen=True)
class ComposedEmail:
    """Subject, plain-text and HTML bodies, and the calendar invitation."""

    subject: str
    body_text: str
    body_html: str = ""
    ics: str = ""


def _changed(facts: ConfirmationFacts, tz: ZoneInfo) -> str:
    """``another day`` / ``another time`` / "" (the older template variable ``changed``)."""
    requested = facts.requested_start.astimezone(tz)
    scheduled = facts.scheduled_start.astimezone(tz)
    if requested.date() != scheduled.date():
        return "another day"
    if requested.time() != scheduled.time():
        return "another time"
    return ""


def change_note(facts: ConfirmationFacts, tz: ZoneInfo) -> str:
    """One sentence on what differs from the request (day or time, and the dentist), or ""."""
    parts = []
    changed = _changed(facts, tz)
    if changed:
        which = "day" if changed == "another day" else "time"
        parts.append(
            f"{'on' if which == 'day' else 'at'} a different {which} from the one you asked "
            f"for ({spoken_datetime(facts.requested_start, tz)})"
        )
    asked = facts.requested_provider.strip()
    if asked and asked != facts.provider.strip():
        parts.append(f"with {facts.provider} instead of {asked}")
    if not parts:
        return ""
    return f"Please note: your appointment is {' and '.join(parts)}."


def confirmation_context(facts: ConfirmationFacts, tz: ZoneInfo) -> dict[str, object]:
    """The variables the templates see (documented in docs/email.md)."""
    end = facts.scheduled_start + timedelta(minutes=facts.duration_min)
    location = ", ".join(p for p in (facts.practice_name, facts.practice_address) if p)
    return {
        "patient_name": facts.patient_name,
        "practice_name": facts.practice_name,
        "practice_address": facts.practice_address,
        "practice_phone": facts.practice_phone,
        "practice_email": facts.practice_email,
        "when": spoken_datetime(facts.scheduled_start, tz),
        "date": spoken_date(facts.scheduled_start, tz),
        "time": spoken_time(facts.scheduled_start, tz),
        "end_time": spoken_time(end, tz),
        "provider": facts.provider,
        "duration_min": facts.duration_min,
        "location": location,
        "changed": _changed(facts, tz),
        "change_note": change_note(facts, tz),
        "requested_when": spoken_datetime(facts.requested_start, tz),
        "requested_provider": facts.requested_provider,
        "replaces_when": (
            spoken_datetime(facts.replaces_start, tz) if facts.replaces_start is not None else ""
        ),
    }


def confirmation_ics(facts: ConfirmationFacts, tz: ZoneInfo) -> str:
    """An iCalendar ``METHOD:PUBLISH`` event for the scheduled appointment.

    DTSTART/DTEND carry the practice's TZID and the calendar its VTIMEZONE (UTC when the
    practice is on UTC); the UID is stable per appointment so a later email updates it.
    """
    start = facts.scheduled_start.astimezone(tz)
    end = start + timedelta(minutes=facts.duration_min)
    domain = practice_domain(facts.practice_email)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", facts.uid or appointment_uid(facts.appointment_pms_id, domain))
    event.add("dtstamp", (facts.stamp or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("sequence", facts.sequence)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    summary = f"Appointment at {facts.practice_name}"
    if facts.provider:
        summary += f" with {facts.provider}"
    event.add("summary", summary)
    location = ", ".join(p for p in (facts.practice_name, facts.practice_address) if p)
    if location:
        event.add("location", location)
    if facts.practice_phone:
        event.add("description", f"To change this appointment, call {facts.practice_phone}.")
    calendar.add_component(event)
    calendar.add_missing_timezones(
        first_date=date(start.year - 1, 1, 1), last_date=date(start.year + 2, 1, 1)
    )
    ical: bytes = calendar.to_ical()
    return ical.decode("utf-8")


def calendar_entry(ics: str) -> CalendarEntry | None:
    """The event an invitation (``.ics`` text) carries: UID, SEQUENCE, start; None when
    there is none or it does not parse."""
    try:
        events = Calendar.from_ical(ics).walk("VEVENT") if ics.strip() else []
    except ValueError:
        return None
    if not events:
        return None
    event = events[0]
    start = event.decoded("dtstart") if "dtstart" in event else None
    return CalendarEntry(
        uid=str(event.get("uid", "")),
        sequence=int(event.get("sequence", 0)),
        start=start if isinstance(start, datetime) else None,
    )


def compose_confirmation(
    facts: ConfirmationFacts, tz: ZoneInfo, env: Environment | None = None
) -> ComposedEmail:
    """Render subject, text, HTML and the calendar invitation for the scheduled appointment
    (a correction of the earlier confirmation when ``facts.replaces_start`` is set)."""
    env = env or default_environment()
    context = confirmation_context(facts, tz)
    correction = facts.replaces_start is not None
    names = (
        (CORRECTION_SUBJECT_TEMPLATE, CORRECTION_TEXT_TEMPLATE, CORRECTION_HTML_TEMPLATE)
        if correction
        else (SUBJECT_TEMPLATE, TEXT_TEMPLATE, HTML_TEMPLATE)
    )
    subject = " ".join(env.get_template(names[0]).render(context).split())
    return ComposedEmail(
        subject=subject,
        body_text=env.get_template(names[1]).render(context),
        body_html=env.get_template(names[2]).render(context),
        ics=confirmation_ics(facts, tz),
    )
