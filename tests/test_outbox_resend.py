"""Sending a sent email again (a new outbox row, audited, one transaction; the sent row
untouched) and the preview of an email as the patient sees it, on SQLite and PostgreSQL
(there also as the desks' role, whose audit rows only the database's trigger writes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.mail.compose import calendar_entry
from linker_tui.mail.preview import email_preview
from linker_tui.mail.transport import FileMailer, eml_path
from linker_tui.store.db import make_engine, read_session, write_session
from linker_tui.store.enums import AppointmentStatus
from linker_tui.store.models import Appointment, AuditEvent, EmailOutbox, OnlineRequest
from linker_tui.workflow.outbox_actions import Composer, OutboxActionError, resend_email
from linker_tui.workflow.practice import format_local
from tests.builders import NOW, TZ
from tests.conftest import POSTGRES_URL
from tests.mail_support import PRACTICE, linked_email, make_relay
from tests.pg_roles import linker_roles, upgrade_as_admin

BOB = Actor("bob", "desk-2", staff="Bob Singh")


def rows(engine: Engine) -> list[dict[str, object]]:
    with read_session(engine) as session:
        found = session.exec(select(EmailOutbox).order_by(col(EmailOutbox.id))).all()
        return [r.model_dump() for r in found]


def email_events(engine: Engine) -> list[AuditEvent]:
    with read_session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        return [e for e in events if e.action.startswith("email_")]


def sent_email(engine: Engine, tmp_path: Path, clock: FixedClock) -> int:
    outbox_id = linked_email(engine)
    assert make_relay(engine, FileMailer(tmp_path / "outbox"), clock).run_once().sent == 1
    return outbox_id


def test_resend_queues_a_copy_and_leaves_the_sent_row_as_it_was(
    engine: Engine, tmp_path: Path
) -> None:
    clock = FixedClock(NOW)
    sent = sent_email(engine, tmp_path, clock)
    before = rows(engine)
    clock.advance(timedelta(minutes=5))

    copy = resend_email(engine, sent, clock, BOB)

    after = rows(engine)
    assert after[:-1] == before  # the sent row's history is untouched
    new = after[-1]
    assert new["id"] == copy
    assert new["status"] == "queued" and new["attempts"] == 0
    assert new["next_attempt_at"] == clock.now() and new["message_id"] == ""
    for field in ("request_id", "appointment_id", "to_address", "to_name", "subject"):
        assert new[field] == before[0][field]
    assert (new["body_text"], new["ics"]) == (before[0]["body_text"], before[0]["ics"])
    (event,) = email_events(engine)
    assert event.action == "email_resend"
    assert (event.desk_user, event.os_user, event.workstation) == ("Bob Singh", "bob", "desk-2")
    assert json.loads(event.before) == {"outbox_id": None, "status": None}
    assert json.loads(event.after) == {"outbox_id": copy, "status": "queued"}
    assert event.detail == f"queued to zoe@example.com: a copy of sent email {sent}"

    # the copy goes out with a Message-ID (and .eml file) of its own
    assert make_relay(engine, FileMailer(tmp_path / "outbox"), clock).run_once().sent == 1
    files = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert len(files) == 2


def test_resend_after_the_pms_moved_the_appointment_is_composed_afresh(
    engine: Engine, tmp_path: Path
) -> None:
    """The copy would tell the patient the old time: with the workflow's composer the new
    email is the confirmation of the appointment as it is now, correcting the one sent
    (same calendar entry, next SEQUENCE), audited as a resend; without a composer (or when
    nothing moved) it is a copy."""
    clock = FixedClock(NOW)
    sent = sent_email(engine, tmp_path, clock)
    composer = Composer(PRACTICE, TZ)
    with read_session(engine) as session:
        row = session.get(EmailOutbox, sent)
        assert row is not None
        old_entry = calendar_entry(row.ics)
        assert old_entry is not None and old_entry.start is not None
        old_text = row.body_text
    same = resend_email(engine, sent, clock, BOB, composer=composer)  # nothing moved: a copy
    moved_to = old_entry.start + timedelta(days=1, hours=2)
    with write_session(engine) as session:
        row = session.get(EmailOutbox, sent)
        assert row is not None
        appointment = session.get(Appointment, row.appointment_id)
        assert appointment is not None
        appointment.start = moved_to
        session.add(appointment)
    copy = resend_email(engine, sent, clock, BOB)  # no composer: a copy, as before
    fresh = resend_email(engine, sent, clock, BOB, composer=composer)

    by_id = {r["id"]: r for r in rows(engine)}
    assert by_id[same]["body_text"] == by_id[copy]["body_text"] == old_text
    new = by_id[fresh]
    assert new["status"] == "queued" and new["to_address"] == "zoe@example.com"
    assert new["body_text"] != old_text
    local = moved_to.astimezone(TZ)
    ampm = "AM" if local.hour < 12 else "PM"
    said = f"{local:%B} {local.day}, {local.year} at {local.hour % 12 or 12}:{local:%M} {ampm}"
    assert said in str(new["body_text"])  # the new time ...
    assert "This email replaces our earlier confirmation" in str(new["body_text"])  # ... a fix
    entry = calendar_entry(str(new["ics"]))
    assert entry is not None and entry.start == moved_to
    assert (entry.uid, entry.sequence) == (old_entry.uid, old_entry.sequence + 1)
    events = email_events(engine)
    assert [e.action for e in events] == ["email_resend"] * 3
    assert events[-1].detail == (
        f"queued to zoe@example.com: composed afresh, the appointment moved to "
        f"{format_local(moved_to, TZ)} since sent email {sent}"
    )
    assert json.loads(events[-1].after) == {"outbox_id": fresh, "status": "queued"}


def test_resend_is_refused_unless_sent_and_still_linked(engine: Engine, tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    sent = sent_email(engine, tmp_path, clock)
    queued = linked_email(engine, first="Bill", last="Hart", address="bill@example.com")
    with pytest.raises(OutboxActionError, match="This email is queued: only a sent email"):
        resend_email(engine, queued, clock, BOB)
    with pytest.raises(OutboxActionError, match="no longer exists"):
        resend_email(engine, 9999, clock, BOB)

    with write_session(engine) as session:
        row = session.get(EmailOutbox, sent)
        assert row is not None
        appointment = session.get(Appointment, row.appointment_id)
        assert appointment is not None
        appointment.status = AppointmentStatus.CANCELLED
        session.add(appointment)
    before = rows(engine)
    with pytest.raises(OutboxActionError, match="Not sent again: the appointment is now cancelled"):
        resend_email(engine, sent, clock, BOB)
    assert rows(engine) == before
    assert email_events(engine) == []


def test_preview_is_the_message_the_patient_gets(engine: Engine, tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    sent = sent_email(engine, tmp_path, clock)
    preview = email_preview(
        engine,
        sent,
        sender=PRACTICE.email,
        sender_name=PRACTICE.name,
        now=clock.now() + timedelta(days=3),
        outbox_dir=tmp_path / "outbox",
    )
    headers = dict(preview.headers)
    assert headers["To"] == "Zoë Lefèvre <zoe@example.com>"
    assert PRACTICE.email in headers["From"]
    with read_session(engine) as session:
        row = session.get(EmailOutbox, sent)
        assert row is not None
        assert headers["Subject"] == row.subject
        assert preview.body.strip() == row.body_text.strip()
        assert preview.file == eml_path(tmp_path / "outbox", row.message_id)
    assert preview.file is not None and preview.file.exists()  # the file the backend wrote
    assert headers["Date"] == "Fri, 27 Nov 2026 14:00:00 +0000"  # when it was sent
    assert preview.attachments == ("appointment.ics (text/calendar)",)
    assert preview.problem == ""


@pytest.fixture
def desk_engine() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("LINKER_TEST_POSTGRES_URL is not set")
    with linker_roles(POSTGRES_URL) as roles:
        admin = upgrade_as_admin(roles)
        desk = make_engine(roles.desk_url)
        yield desk
        desk.dispose()
        admin.dispose()


@pytest.mark.postgres
def test_resend_as_the_desk_role_is_audited_by_the_database(
    desk_engine: Engine, tmp_path: Path
) -> None:
    clock = FixedClock(NOW)
    sent = sent_email(desk_engine, tmp_path, clock)  # linked and sent by the desk role
    copy = resend_email(desk_engine, sent, clock, BOB)
    (event,) = email_events(desk_engine)
    assert event.action == "email_resend" and event.desk_user == "Bob Singh"
    assert event.db_user.startswith("audit_desk_")
    assert json.loads(event.after) == {"outbox_id": copy, "status": "queued"}
    with read_session(desk_engine) as session:
        request = session.exec(select(OnlineRequest)).first()
        assert request is not None and event.request_id == request.id
