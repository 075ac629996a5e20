"""Delivery through a real SMTP server on loopback (aiosmtpd): what arrives, and every way
it can fail. Time never passes by sleeping: the relay's FixedClock is advanced."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from icalendar import Calendar
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from linker_tui.common.clock import FixedClock
from linker_tui.mail.relay import NO_EMAIL_REASON, RelayPolicy
from linker_tui.mail.report import Outcome
from linker_tui.mail.transport import SmtpMailer
from linker_tui.store.db import read_session, write_session
from linker_tui.store.models import EmailOutbox, Patient
from tests.builders import NOW, TZ
from tests.mail_support import (
    DROP,
    SENDER,
    ScriptedHandler,
    SilentServer,
    free_port,
    linked_email,
    login_checker,
    make_relay,
    smtp_server,
    tls_contexts,
)


def row(engine: Engine, outbox_id: int) -> EmailOutbox:
    with read_session(engine) as s:
        found = s.get(EmailOutbox, outbox_id)
        assert found is not None
        return found


def test_delivered_message_has_headers_both_bodies_and_a_calendar_invite(
    sqlite_engine: Engine,
) -> None:
    oid = linked_email(sqlite_engine, first="Zoë <b>", last="O'Brien & [Co]")
    clock = FixedClock(NOW)
    with smtp_server() as server:
        report = make_relay(sqlite_engine, server.mailer(), clock).run_once()
    assert (report.sent, report.failed, report.retrying) == (1, 0, 0)
    (got,) = server.handler.accepted
    assert got.mail_from == SENDER and got.rcpt_tos == ["zoe@example.com"]
    msg = got.message
    assert msg["From"] == f"Maple Grove Dental <{SENDER}>"
    assert msg["To"] == '"Zoë <b> O\'Brien & [Co]" <zoe@example.com>'
    assert msg["Subject"] == (
        "Your appointment at Maple Grove Dental: Thursday, December 10, 2026 at 2:00 PM"
    )
    assert msg["Auto-Submitted"] == "auto-generated"
    stored = row(sqlite_engine, oid)
    assert stored.status == "sent" and stored.attempts == 1 and stored.sent_at == NOW
    assert msg["Message-ID"] == stored.message_id
    assert stored.message_id.endswith("@maplegrove.example.com>")
    assert stored.claimed_by == "" and stored.lease_until is None

    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, html):
        assert "Thursday, December 10, 2026 at 2:00 PM" in body  # the scheduled time
        assert "Dr. Rahul Patel" in body
        assert "(416) 555-0100" in body and "1200 Maple Grove Rd" in body
    assert "Dear Zoë <b>," in text  # plain text as typed
    assert "Dear Zoë &lt;b&gt;," in html and "<b>," not in html  # HTML escaped

    (ics,) = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "appointment.ics"
    assert ics.get_param("method") == "PUBLISH"
    calendar = Calendar.from_ical(ics.get_content())
    (event,) = calendar.walk("VEVENT")
    start = event.decoded("dtstart")
    assert start.tzinfo is not None and str(start.tzinfo) == "America/Toronto"
    assert start.astimezone(UTC) == NOW.replace(month=12, day=10, hour=14).astimezone(UTC)
    assert start == NOW.replace(month=12, day=10, hour=14)
    assert event["dtstart"].params["TZID"] == "America/Toronto"
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["America/Toronto"]
    assert str(event["uid"]).startswith("appointment-A") and str(event["uid"]).endswith(
        "@maplegrove.example.com"
    )


def test_temporary_4xx_is_retried_after_backoff_with_the_same_message_id(
    sqlite_engine: Engine,
) -> None:
    oid = linked_email(sqlite_engine)
    clock = FixedClock(NOW)
    handler = ScriptedHandler(data_script=["451 4.3.0 Try again later", "452 4.3.1 Full"])
    with smtp_server(handler) as server:
        relay = make_relay(sqlite_engine, server.mailer(), clock)
        first = relay.run_once()
        assert [r.outcome for r in first.results] == [Outcome.RETRY]
        assert first.results[0].next_attempt_at == NOW + timedelta(minutes=1)
        stored = row(sqlite_engine, oid)
        assert stored.status == "queued" and stored.attempts == 1
        assert stored.last_error == "message refused: 451 4.3.0 Try again later"
        assert relay.run_once().results == ()  # not due yet
        clock.advance(timedelta(seconds=59))
        assert relay.run_once().results == ()
        clock.advance(timedelta(seconds=1))
        second = relay.run_once()
        assert second.results[0].next_attempt_at == clock.now() + timedelta(minutes=2)
        clock.advance(timedelta(minutes=2))
        third = relay.run_once()
    assert (third.sent, third.retrying) == (1, 0)
    stored = row(sqlite_engine, oid)
    assert stored.status == "sent" and stored.attempts == 3 and stored.last_error == ""
    assert handler.accepted_ids() == [stored.message_id]  # delivered once
    assert handler.refused_ids == [stored.message_id] * 2  # the same message each time


def test_permanent_5xx_fails_that_message_at_once_and_the_others_still_go(
    sqlite_engine: Engine,
) -> None:
    bad = linked_email(sqlite_engine, address="nobody@example.com")
    good = linked_email(sqlite_engine, first="Bill", last="Hart", address="bill@example.com")
    handler = ScriptedHandler(rcpt_script=["550 5.1.1 <nobody@example.com>: no such user"])
    with smtp_server(handler) as server:
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert (report.sent, report.failed) == (1, 1)
    failed = row(sqlite_engine, bad)
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.last_error == "recipient refused: 550 5.1.1 <nobody@example.com>: no such user"
    assert row(sqlite_engine, good).status == "sent"
    assert [r.rcpt_tos for r in handler.accepted] == [["bill@example.com"]]


def test_connection_dropped_mid_data_is_retried_and_delivered_once(sqlite_engine: Engine) -> None:
    oid = linked_email(sqlite_engine)
    other = linked_email(sqlite_engine, first="Bill", last="Hart", address="bill@example.com")
    clock = FixedClock(NOW)
    handler = ScriptedHandler(data_script=[DROP])
    with smtp_server(handler) as server:
        relay = make_relay(sqlite_engine, server.mailer(), clock)
        first = relay.run_once()
        assert [(r.outbox_id, r.outcome) for r in first.results] == [(oid, Outcome.RETRY)]
        assert "connection lost while sending" in first.stopped
        assert row(sqlite_engine, other).attempts == 0  # the run stopped: untouched
        clock.advance(timedelta(minutes=1))
        second = relay.run_once()
    assert second.sent == 2
    assert sorted(handler.accepted_ids()) == sorted(
        [row(sqlite_engine, oid).message_id, row(sqlite_engine, other).message_id]
    )
    assert row(sqlite_engine, oid).attempts == 2


def test_a_server_that_never_answers_times_out_and_stays_queued(sqlite_engine: Engine) -> None:
    oid = linked_email(sqlite_engine)
    with SilentServer() as silent:
        mailer = SmtpMailer("127.0.0.1", silent.port, security="none", timeout=0.5)
        began = time.monotonic()
        report = make_relay(sqlite_engine, mailer, FixedClock(NOW)).run_once()
        elapsed = time.monotonic() - began
    assert elapsed < 3
    assert report.retrying == 1 and report.stopped
    stored = row(sqlite_engine, oid)
    assert stored.status == "queued" and stored.attempts == 0  # the server's failure
    assert "timed out" in stored.last_error
    assert stored.next_attempt_at == NOW + timedelta(minutes=1)


def test_connection_refused_is_temporary_and_stops_the_run(sqlite_engine: Engine) -> None:
    first = linked_email(sqlite_engine)
    second = linked_email(sqlite_engine, first="Bill", last="Hart", address="bill@example.com")
    mailer = SmtpMailer("127.0.0.1", free_port(), security="none", timeout=1)
    report = make_relay(sqlite_engine, mailer, FixedClock(NOW)).run_once()
    assert report.retrying == 1 and "unavailable" in report.stopped
    assert row(sqlite_engine, first).status == "queued"
    assert row(sqlite_engine, second).attempts == 0


def test_out_of_attempts_ends_failed(sqlite_engine: Engine) -> None:
    oid = linked_email(sqlite_engine)
    clock = FixedClock(NOW)
    policy = RelayPolicy(max_attempts=3)
    handler = ScriptedHandler(data_script=["451 4.3.0 try later"] * 5)
    outcomes = []
    with smtp_server(handler) as server:
        relay = make_relay(sqlite_engine, server.mailer(), clock, policy=policy)
        for _ in range(3):
            outcomes += [r.outcome for r in relay.run_once().results]
            clock.advance(timedelta(hours=1))
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.FAILED]
    stored = row(sqlite_engine, oid)
    assert stored.status == "failed" and stored.attempts == 3
    assert stored.last_error == "gave up after 3 attempts: message refused: 451 4.3.0 try later"
    assert handler.accepted == []


def test_header_injection_fails_that_message_only(sqlite_engine: Engine) -> None:
    """Rows queued before the queue-time check (an older version, a PMS name changed since):
    the relay checks every message again when it sends."""
    crlf, encoded, bad_address = (linked_email(sqlite_engine) for _ in range(3))
    good = linked_email(sqlite_engine, first="Bill", last="Hart", address="bill@example.com")
    with write_session(sqlite_engine) as s:
        for oid, values in (
            (crlf, {"to_name": "Eve\r\nBcc: x@evil.example Smith"}),
            (encoded, {"to_name": "=?utf-8?q?Bcc=3A_x=40evil.example?= E"}),
            (bad_address, {"to_address": "al@@example"}),
        ):
            s.execute(sa.update(EmailOutbox).where(EmailOutbox.id == oid).values(**values))  # type: ignore[arg-type]
    with smtp_server() as server:
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert (report.sent, report.failed) == (1, 3)
    assert row(sqlite_engine, crlf).last_error == (
        "To name contains a line break (header injection refused)"
    )
    assert row(sqlite_engine, encoded).last_error == (
        "To name contains an encoded-word (=?...?=), refused"
    )
    assert "is not a valid email address" in row(sqlite_engine, bad_address).last_error
    for oid in (crlf, encoded, bad_address):
        assert row(sqlite_engine, oid).status == "failed"
        assert row(sqlite_engine, oid).attempts == 1
    assert row(sqlite_engine, good).status == "sent"
    (got,) = server.handler.accepted
    assert got.rcpt_tos == ["bill@example.com"]
    assert b"evil" not in got.raw and "Bcc" not in got.message


def test_no_email_flag_set_after_queueing_cancels_at_send_time(sqlite_engine: Engine) -> None:
    oid = linked_email(sqlite_engine)
    with write_session(sqlite_engine) as s:
        s.execute(sa.update(Patient).values(no_email=True))
    with smtp_server() as server:
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert report.cancelled == 1 and report.sent == 0
    stored = row(sqlite_engine, oid)
    assert (stored.status, stored.last_error, stored.attempts) == ("cancelled", NO_EMAIL_REASON, 0)
    assert server.handler.accepted == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_with_the_password_and_a_refused_login_keeps_it_secret(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    oid = linked_email(sqlite_engine)
    clock = FixedClock(NOW)
    checker = login_checker("desk", "s3cret-Pa55")
    with smtp_server(authenticator=checker, auth_require_tls=False, auth_required=True) as server:
        wrong = server.mailer(username="desk", password=SecretStr("wrong-Pa55"))
        report = make_relay(sqlite_engine, wrong, clock).run_once()
        assert report.retrying == 1 and "refused the login: 535" in report.stopped
        clock.advance(timedelta(minutes=1))
        right = server.mailer(username="desk", password=SecretStr("s3cret-Pa55"))
        assert "s3cret" not in repr(right)
        assert make_relay(sqlite_engine, right, clock).run_once().sent == 1
    assert row(sqlite_engine, oid).status == "sent"
    assert "Pa55" not in caplog.text and "Pa55" not in row(sqlite_engine, oid).last_error


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_starttls_upgrades_the_connection(
    sqlite_engine: Engine, certificate: tuple[str, str]
) -> None:
    server_ctx, client_ctx = tls_contexts(*certificate)
    linked_email(sqlite_engine)
    with smtp_server(tls_context=server_ctx, require_starttls=True) as server:
        mailer = server.mailer(security="starttls", ssl_context=client_ctx)
        assert make_relay(sqlite_engine, mailer, FixedClock(NOW)).run_once().sent == 1
    assert len(server.handler.accepted) == 1


def test_starttls_with_an_untrusted_certificate_is_refused(
    sqlite_engine: Engine, certificate: tuple[str, str], tmp_path: Path
) -> None:
    server_ctx, _ = tls_contexts(*certificate)
    linked_email(sqlite_engine)
    with smtp_server(tls_context=server_ctx, require_starttls=True) as server:
        report = make_relay(
            sqlite_engine, server.mailer(security="starttls"), FixedClock(NOW)
        ).run_once()
    assert report.retrying == 1 and "CERTIFICATE_VERIFY_FAILED" in report.stopped
    assert server.handler.accepted == []


def test_naive_local_times_never_leak_into_the_invite(sqlite_engine: Engine) -> None:
    """DST boundary: a July appointment is EDT (-04:00), the instant must still be right."""
    from tests.builders import local

    linked_email(sqlite_engine, start=local(2027, 7, 6, 8, 15))
    with smtp_server() as server:
        make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    (got,) = server.handler.accepted
    (ics,) = [p for p in got.message.iter_attachments()]
    (event,) = Calendar.from_ical(ics.get_content()).walk("VEVENT")
    start = event.decoded("dtstart")
    assert start.astimezone(UTC).isoformat() == "2027-07-06T12:15:00+00:00"
    assert start.astimezone(TZ).hour == 8
