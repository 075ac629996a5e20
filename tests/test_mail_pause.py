"""A mail server that is away for every message pauses the relay with a growing wait; it
never uses up the queued emails' attempts (real aiosmtpd on loopback)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.common.clock import FixedClock
from linker_tui.mail.pause import ServerPause, same_code_streak
from linker_tui.mail.relay import RelayPolicy
from linker_tui.mail.report import Outcome
from linker_tui.mail.transport import SmtpMailer
from linker_tui.store.db import read_session
from linker_tui.store.models import EmailOutbox
from tests.builders import NOW
from tests.mail_support import ScriptedHandler, free_port, linked_email, make_relay, smtp_server


def attempts(engine: Engine) -> list[tuple[str, int]]:
    with read_session(engine) as s:
        rows = s.exec(select(EmailOutbox).order_by(col(EmailOutbox.id))).all()
        return [(r.status, r.attempts) for r in rows]


def queue(engine: Engine, n: int) -> list[int]:
    return [linked_email(engine, first=f"P{i}", address=f"p{i}@example.com") for i in range(n)]


def test_connection_refused_pauses_with_a_growing_wait_and_charges_nothing(
    sqlite_engine: Engine,
) -> None:
    queue(sqlite_engine, 4)
    clock = FixedClock(NOW)
    pause = ServerPause()
    down = SmtpMailer("127.0.0.1", free_port(), security="none", timeout=1)
    waits = []
    for _ in range(12):  # an afternoon of runs every minute with the server down
        relay = make_relay(sqlite_engine, down, clock)
        relay.pause = pause  # as Services keeps it between runs
        report = relay.run_once()
        assert report.stopped.startswith("mail server unavailable")
        if report.results:
            (result,) = report.results
            assert result.outcome is Outcome.RETRY
            assert result.next_attempt_at is not None
            waits.append(result.next_attempt_at - clock.now())
        clock.advance(timedelta(minutes=1))
    # tried at 14:00, 14:01, 14:03 and 14:07: the wait doubles, one connection each time
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert attempts(sqlite_engine) == [("queued", 0)] * 4  # no email lost an attempt

    with smtp_server() as server:  # the server is back: everything goes, the pause ends
        clock.advance(timedelta(hours=1))
        relay = make_relay(sqlite_engine, server.mailer(), clock)
        relay.pause = pause
        assert relay.run_once().sent == 4
    assert pause.active(clock.now()) is None
    assert attempts(sqlite_engine) == [("sent", 1)] * 4


def test_421_is_the_server_closing_not_the_message(sqlite_engine: Engine) -> None:
    first, _ = queue(sqlite_engine, 2)
    handler = ScriptedHandler(data_script=["421 4.3.2 shutting down"])
    with smtp_server(handler) as server:
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert [(r.outbox_id, r.outcome) for r in report.results] == [(first, Outcome.RETRY)]
    assert "paused until 2026-11-27T14:01+00:00" in report.stopped
    assert attempts(sqlite_engine) == [("queued", 0), ("queued", 0)]


def test_the_same_4xx_for_every_recipient_pauses_the_relay(sqlite_engine: Engine) -> None:
    ids = queue(sqlite_engine, 5)
    handler = ScriptedHandler(rcpt_script=["451 4.7.1 greylisted, try later"] * 5)
    clock = FixedClock(NOW)
    policy = RelayPolicy(max_attempts=2)
    with smtp_server(handler) as server:
        relay = make_relay(sqlite_engine, server.mailer(), clock, policy=policy)
        report = relay.run_once()
        assert [r.outbox_id for r in report.results] == ids[:3]  # it stopped after three
        assert "paused until 2026-11-27T14:01+00:00: recipient refused: 451" in report.stopped
        assert relay.run_once().results == ()  # paused
    assert attempts(sqlite_engine) == [("queued", 0)] * 5  # not one attempt used up
    with read_session(sqlite_engine) as s:
        row = s.get(EmailOutbox, ids[0])
        assert row is not None and row.next_attempt_at == NOW + timedelta(minutes=1)


def test_one_recipient_refused_for_now_is_that_message_s_problem(sqlite_engine: Engine) -> None:
    queue(sqlite_engine, 3)
    handler = ScriptedHandler(rcpt_script=["250 OK", "452 4.2.2 mailbox full", "250 OK"])
    with smtp_server(handler) as server:
        report = make_relay(sqlite_engine, server.mailer(), FixedClock(NOW)).run_once()
    assert (report.sent, report.retrying, report.stopped) == (2, 1, "")
    assert attempts(sqlite_engine) == [("sent", 1), ("queued", 1), ("sent", 1)]


def test_what_counts_as_every_recipient() -> None:
    assert same_code_streak([451, 451, 451], complete=False)
    assert not same_code_streak([451, 451], complete=False)
    assert same_code_streak([451, 451], complete=True)  # every message of the run
    assert not same_code_streak([451], complete=True)  # one message proves nothing
    assert not same_code_streak([451, 452, 451], complete=True)
    assert not same_code_streak([550, 550, 550], complete=True)
