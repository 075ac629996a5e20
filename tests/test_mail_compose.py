"""Composing the confirmation: templates (packaged and overridden), escaping, the invite,
and the header checks that stand between patient data and the message headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy.engine import Engine

from linker_tui.common.clock import FixedClock
from linker_tui.mail.compose import (
    ConfirmationFacts,
    appointment_uid,
    calendar_entry,
    compose_confirmation,
    make_environment,
    practice_domain,
)
from linker_tui.mail.message import InvalidHeader, check_header_value, make_address
from linker_tui.store.db import read_session
from linker_tui.store.models import EmailOutbox
from tests.builders import NOW, TZ, local
from tests.mail_support import PRACTICE, linked_email, practice_workflow


def facts(**changes: object) -> ConfirmationFacts:
    base: dict[str, object] = {
        "patient_name": "Zoë",
        "scheduled_start": local(2026, 12, 10, 14, 0),
        "duration_min": 45,
        "provider": "Dr. Rahul Patel",
        "requested_start": local(2026, 12, 3, 9, 30),
        "practice_name": PRACTICE.name,
        "practice_address": PRACTICE.address,
        "practice_phone": PRACTICE.phone,
        "practice_email": PRACTICE.email,
        "appointment_pms_id": "A42",
        "stamp": NOW,
    }
    base.update(changes)
    return ConfirmationFacts(**base)  # type: ignore[arg-type]


def test_text_and_html_show_the_scheduled_appointment_and_the_practice() -> None:
    email = compose_confirmation(facts(patient_name="<Zoë> & [b]"), TZ)
    assert email.subject == (
        "Your appointment at Maple Grove Dental: Thursday, December 10, 2026 at 2:00 PM"
    )
    assert "Dear <Zoë> & [b]," in email.body_text
    assert "Dear &lt;Zoë&gt; &amp; [b]," in email.body_html
    for body in (email.body_text, email.body_html):
        assert "Thursday, December 10, 2026 at 2:00 PM" in body
        assert "Dr. Rahul Patel" in body and "45 minutes" in body
        assert "1200 Maple Grove Rd, Unit 4, Toronto, ON M4B 1B3" in body
        assert "(416) 555-0100" in body
        assert (
            "Please note: your appointment is on a different day from the one you asked for "
            "(Thursday, December 3, 2026 at 9:30 AM)."
        ) in body
        assert "Thank you for your online appointment request." in body
        assert "than you asked" not in body and "\nthank you" not in body


def _plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize(
    ("changes", "note"),
    [
        (
            {"scheduled_start": local(2026, 12, 3, 14, 0)},
            "Please note: your appointment is at a different time from the one you asked for "
            "(Thursday, December 3, 2026 at 9:30 AM).",
        ),
        (
            {"scheduled_start": local(2026, 12, 3, 9, 30), "requested_provider": "Dr. Amelia Chen"},
            "Please note: your appointment is with Dr. Rahul Patel instead of Dr. Amelia Chen.",
        ),
        (
            {"scheduled_start": local(2026, 12, 3, 14, 0), "requested_provider": "Dr. Amelia Chen"},
            "Please note: your appointment is at a different time from the one you asked for "
            "(Thursday, December 3, 2026 at 9:30 AM) and with Dr. Rahul Patel instead of "
            "Dr. Amelia Chen.",
        ),
    ],
)
def test_a_changed_time_or_dentist_is_said_in_one_sentence(
    changes: dict[str, object], note: str
) -> None:
    email = compose_confirmation(facts(**changes), TZ)
    assert note in " ".join(email.body_text.split())
    assert note in _plain(email.body_html)


def test_nothing_changed_says_nothing_about_it() -> None:
    same = facts(scheduled_start=local(2026, 12, 3, 9, 30), requested_provider="Dr. Rahul Patel")
    email = compose_confirmation(same, TZ)
    assert "Please note" not in email.body_text and "Please note" not in email.body_html


def test_a_correction_replaces_the_earlier_confirmation_and_updates_its_calendar_entry() -> None:
    first = compose_confirmation(facts(scheduled_start=local(2026, 12, 3, 9, 30)), TZ)
    earlier = calendar_entry(first.ics)
    assert earlier is not None and earlier.uid == "appointment-A42@maplegrove.example.com"
    correction = compose_confirmation(
        facts(
            appointment_pms_id="A77",
            replaces_start=earlier.start,
            uid=earlier.uid,
            sequence=earlier.sequence + 1,
        ),
        TZ,
    )
    assert correction.subject == (
        "Correction: your appointment at Maple Grove Dental is now "
        "Thursday, December 10, 2026 at 2:00 PM"
    )
    for body in (" ".join(correction.body_text.split()), _plain(correction.body_html)):
        assert (
            "This email replaces our earlier confirmation, which gave "
            "Thursday, December 3, 2026 at 9:30 AM. That time no longer applies."
        ) in body
        assert "is now booked for:" in body
        assert "Thursday, December 10, 2026 at 2:00 PM" in body
        assert "updates the entry of the earlier confirmation" in body
    again = calendar_entry(correction.ics)
    assert again is not None
    assert (again.uid, again.sequence) == (earlier.uid, earlier.sequence + 1)
    assert again.start == local(2026, 12, 10, 14, 0)


def test_the_invite_is_an_event_at_the_scheduled_instant_with_a_stable_uid() -> None:
    email = compose_confirmation(facts(sequence=2), TZ)
    calendar = Calendar.from_ical(email.ics)
    assert str(calendar["method"]) == "PUBLISH"
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]) == "appointment-A42@maplegrove.example.com"
    assert event.decoded("dtstart") == local(2026, 12, 10, 14, 0)
    assert event.decoded("dtstart").astimezone(UTC) == datetime(2026, 12, 10, 19, 0, tzinfo=UTC)
    assert event.decoded("dtend") == local(2026, 12, 10, 14, 45)
    assert event["dtstart"].params["TZID"] == "America/Toronto"
    assert event.decoded("sequence") == 2
    assert "Dr. Rahul Patel" in str(event["summary"])
    assert "1200 Maple Grove Rd" in str(event["location"])
    (vtimezone,) = calendar.walk("VTIMEZONE")
    assert vtimezone["tzid"] == "America/Toronto"
    again = Calendar.from_ical(compose_confirmation(facts(), TZ).ics)
    assert str(again.walk("VEVENT")[0]["uid"]) == str(event["uid"])


def test_a_practice_on_utc_gets_utc_times() -> None:
    utc = ZoneInfo("UTC")
    email = compose_confirmation(facts(), utc)
    (event,) = Calendar.from_ical(email.ics).walk("VEVENT")
    assert "DTSTART:20261210T190000Z" in email.ics
    assert event.decoded("dtstart") == datetime(2026, 12, 10, 19, 0, tzinfo=UTC)
    assert "Thursday, December 10, 2026 at 7:00 PM" in email.body_text


def test_uid_and_domain_are_sanitised() -> None:
    assert practice_domain("Reception@Praxis-Müller.example") == "xn--praxis-mller-klb.example"
    assert practice_domain("") == "linker-tui.invalid"
    assert appointment_uid("A 1/2<x>", "d.example") == "appointment-A_1_2_x_@d.example"


def test_templates_from_the_practice_folder_come_first(tmp_path: Path) -> None:
    (tmp_path / "confirmation.txt.j2").write_text(
        "Hello {{ patient_name }}, see you {{ date }} at {{ time }} ({{ location }}).\n",
        encoding="utf-8",
    )
    (tmp_path / "confirmation.html.j2").write_text(
        "<p>Hello {{ patient_name }}</p>\n", encoding="utf-8"
    )
    env = make_environment(tmp_path)
    email = compose_confirmation(facts(patient_name="A & <B>"), TZ, env)
    assert email.body_text == (
        "Hello A & <B>, see you Thursday, December 10, 2026 at 2:00 PM "
        "(Maple Grove Dental, 1200 Maple Grove Rd, Unit 4, Toronto, ON M4B 1B3).\n"
    )
    assert email.body_html == "<p>Hello A &amp; &lt;B&gt;</p>\n"  # user HTML autoescaped too
    assert email.subject.startswith("Your appointment at")  # packaged template as fallback


def test_user_templates_are_sandboxed(tmp_path: Path) -> None:
    (tmp_path / "confirmation.subject.j2").write_text(
        "{{ patient_name.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8"
    )
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        compose_confirmation(facts(), TZ, make_environment(tmp_path))


def test_workflow_uses_the_practice_templates(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "confirmation.subject.j2").write_text(
        "{{ practice_name }} - {{ date }}", encoding="utf-8"
    )
    workflow = practice_workflow(engine, FixedClock(NOW))
    workflow.templates = make_environment(tmp_path)
    oid = linked_email(engine, workflow=workflow)
    with read_session(engine) as s:
        row = s.get(EmailOutbox, oid)
        assert row is not None
        assert row.subject == "Maple Grove Dental - Thursday, December 10, 2026"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Eve\r\nBcc: x@evil.example", "line break"),
        ("Eve\nBcc: x@evil.example", "line break"),
        ("Eve\x00", "control character"),
        ("=?utf-8?q?Bcc=3A_x?=", "encoded-word"),
        ("Eve =?utf-8?b?QmNjOiB4QGV2aWw=?= Smith", "encoded-word"),
    ],
)
def test_header_values_with_injections_are_refused(value: str, reason: str) -> None:
    with pytest.raises(InvalidHeader, match=reason):
        check_header_value("To name", value)


def test_header_values_people_really_have_are_accepted() -> None:
    for name in ("Zoë Lefèvre", "O'Brien, Mary-Ann", "<b>Bold</b> [x] & co", "José (Pepe)"):
        assert check_header_value("To name", name) == name
    address = make_address("To", 'Hart, "Bill"', "bill@example.com")
    assert str(address) == '"Hart, \\"Bill\\"" <bill@example.com>'


@pytest.mark.parametrize(
    "address", ["", "bill", "bill@", "@example.com", "bill@@example.com", "bill @example.com",
                "bill@example", "a,b@example.com", "<bill@example.com>"],
)  # fmt: skip
def test_invalid_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidHeader, match="not a valid email address"):
        make_address("To", "Bill", address)
