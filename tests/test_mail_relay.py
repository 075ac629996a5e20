"""The outbox relay on SQLite and PostgreSQL: claims, leases, the crash window, staff
actions (retry / cancel), and two relays at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.mail.message import build_message
from linker_tui.mail.queries import outbox_counts, outbox_entries
from linker_tui.mail.relay import RelayPolicy
from linker_tui.mail.report import Outcome
from linker_tui.store.db import make_engine, read_session
from linker_tui.store.enums import OutboxStatus
from linker_tui.store.models import EmailOutbox
from linker_tui.workflow.outbox_actions import (
    OutboxActionError,
    cancel_email,
    retry_email,
)
from linker_tui.workflow.trail import audit_trail
from tests.builders import NOW
from tests.mail_support import (
    ScriptedHandler,
    linked_email,
    make_relay,
    practice_workflow,
    smtp_server,
)


def row(engine: Engine, outbox_id: int) -> EmailOutbox:
    with read_session(engine) as s:
        found = s.get(EmailOutbox, outbox_id)
        assert found is not None
        return found


def _time_passes(engine: Engine, clock: FixedClock, delta: timedelta) -> None:
    """The desks' clock moves on, and with it the claims' leases: on PostgreSQL they run
    by the server's clock, so the test moves them back instead."""
    clock.advance(delta)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE email_outbox SET lease_until = lease_until - :d"), {"d": delta}
            )


def _lease_now(engine: Engine, clock: FixedClock) -> datetime:
    if engine.dialect.name != "postgresql":
        return clock.now()
    with engine.connect() as conn:
        now: datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    return now


def test_backoff_doubles_from_one_minute_up_to_one_hour() -> None:
    policy = RelayPolicy()
    minutes = [policy.backoff(n) / timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert policy.backoff(10_000) == timedelta(hours=1)


def test_link_queues_a_due_row_with_its_message_id_html_and_invite(engine: Engine) -> None:
    oid = linked_email(engine)
    stored = row(engine, oid)
    assert stored.status == "queued" and stored.attempts == 0
    assert stored.next_attempt_at == NOW and stored.created_at == NOW
    assert stored.message_id.startswith("<") and "@maplegrove.example.com>" in stored.message_id
    assert "<html" in stored.body_html and "BEGIN:VCALENDAR" in stored.ics


def test_a_claimed_row_cannot_be_claimed_again_until_its_lease_expires(engine: Engine) -> None:
    oid = linked_email(engine)
    clock = FixedClock(NOW)
    one = make_relay(engine, _NeverMailer(), clock, "relay-1")
    two = make_relay(engine, _NeverMailer(), clock, "relay-2")
    claimed = one.claim(oid)
    assert claimed is not None and not claimed.cancelled
    stored = row(engine, oid)
    assert (stored.status, stored.claimed_by, stored.attempts) == ("sending", "relay-1", 1)
    assert stored.lease_until is not None
    lease = stored.lease_until - _lease_now(engine, clock)
    assert timedelta(minutes=4, seconds=55) < lease <= timedelta(minutes=5)
    assert two.claim(oid) is None
    assert two.due_ids() == []
    _time_passes(engine, clock, timedelta(minutes=5) - timedelta(seconds=2))
    assert two.claim(oid) is None
    if engine.dialect.name == "sqlite":
        clock.advance(timedelta(seconds=2))
        assert two.claim(oid) is None  # lease_until < now, strictly
    _time_passes(engine, clock, timedelta(seconds=3))
    assert two.claim(oid) is not None
    assert row(engine, oid).claimed_by == "relay-2"


def test_a_relay_whose_clock_runs_fast_does_not_take_over_a_row_being_sent(
    engine: Engine,
) -> None:
    """Leases by the server's clock on PostgreSQL: a desk 6 minutes fast sees no expired
    claim. SQLite is one machine: one clock, which says the lease ran out."""
    oid = linked_email(engine)
    one = make_relay(engine, _NeverMailer(), FixedClock(NOW), "relay-1")
    fast = make_relay(engine, _NeverMailer(), FixedClock(NOW + timedelta(minutes=6)), "relay-2")
    assert one.claim(oid) is not None
    taken = fast.claim(oid)
    assert (taken is None) == (engine.dialect.name == "postgresql")


def test_crash_between_send_and_mark_resends_once_with_the_same_message_id(
    engine: Engine,
) -> None:
    """The documented window: delivered, then the relay died before recording it."""
    oid = linked_email(engine)
    clock = FixedClock(NOW)
    with smtp_server() as server:
        crashed = make_relay(engine, server.mailer(), clock, "relay-1")
        claimed = crashed.claim(oid)
        assert claimed is not None
        server.mailer().deliver(build_message(claimed.row, "reception@maplegrove.example.com",
                                              "Maple Grove Dental", clock.now()))  # fmt: skip
        # ... the process dies here: the row stays "sending" under relay-1's lease
        survivor = make_relay(engine, server.mailer(), clock, "relay-2")
        assert survivor.run_once().results == ()  # lease still live: no double send now
        _time_passes(engine, clock, timedelta(minutes=5, seconds=1))
        report = survivor.run_once()
    assert report.sent == 1
    stored = row(engine, oid)
    assert stored.status == "sent" and stored.attempts == 2
    assert server.handler.accepted_ids() == [stored.message_id] * 2  # a recognisable resend


def test_a_result_is_not_recorded_by_a_relay_that_lost_its_claim(engine: Engine) -> None:
    oid = linked_email(engine)
    clock = FixedClock(NOW)
    slow = make_relay(engine, _NeverMailer(), clock, "relay-1")
    claimed = slow.claim(oid)
    assert claimed is not None
    _time_passes(engine, clock, timedelta(minutes=6))
    with smtp_server() as server:
        assert make_relay(engine, server.mailer(), clock, "relay-2").run_once().sent == 1
    slow._record_failure(claimed.row, "late", permanent=True)  # too late: ignored
    assert row(engine, oid).status == "sent"


def test_retry_and_cancel_for_the_outbox_screen(engine: Engine) -> None:
    failed = linked_email(engine, address="nobody@example.com")
    queued = linked_email(engine, first="Bill", last="Hart", address="bill@example.com")
    clock = FixedClock(NOW)
    actor = Actor("bob", "desk-2")
    handler = ScriptedHandler(rcpt_script=["550 5.1.1 no such user", "451 4.7.1 later"])
    with smtp_server(handler) as server:
        make_relay(engine, server.mailer(), clock).run_once()
    assert row(engine, failed).status == "failed"
    assert (row(engine, queued).status, row(engine, queued).attempts) == ("queued", 1)
    counts = outbox_counts(engine)
    assert counts[OutboxStatus.FAILED] == 1 and counts[OutboxStatus.QUEUED] == 1
    assert counts[OutboxStatus.SENT] == 0

    clock.advance(timedelta(seconds=10))
    retry_email(engine, failed, clock, actor)
    again = row(engine, failed)
    assert (again.status, again.attempts, again.next_attempt_at) == ("queued", 0, clock.now())
    with pytest.raises(OutboxActionError, match="This email is queued: it cannot be sent again"):
        retry_email(engine, failed, clock, actor)

    cancel_email(engine, queued, clock, actor, "patient phoned")
    cancelled = row(engine, queued)
    assert cancelled.status == "cancelled"
    assert cancelled.last_error == "cancelled by bob@desk-2: patient phoned"
    with pytest.raises(OutboxActionError, match="cancelled: it cannot be cancelled"):
        cancel_email(engine, queued, clock, actor)
    with pytest.raises(OutboxActionError, match="no longer exists"):
        cancel_email(engine, 9999, clock, actor)

    with smtp_server() as server:
        assert make_relay(engine, server.mailer(), clock).run_once().sent == 1
    assert row(engine, failed).status == "sent"
    with pytest.raises(OutboxActionError, match="This email is sent"):
        cancel_email(engine, failed, clock, actor)

    actions = [e.action for e in audit_trail(engine) if e.action.startswith("email_")]
    assert actions == ["email_retry", "email_cancel"]
    entries = {e.id: e for e in outbox_entries(engine)}
    assert entries[failed].status is OutboxStatus.SENT
    assert entries[queued].last_error == "cancelled by bob@desk-2: patient phoned"
    assert [e.id for e in outbox_entries(engine, (OutboxStatus.CANCELLED,))] == [queued]


def test_reopened_request_withdraws_a_failed_email_retried_later(engine: Engine) -> None:
    oid = linked_email(engine, address="nobody@example.com")
    clock = FixedClock(NOW)
    with smtp_server(ScriptedHandler(rcpt_script=["550 5.1.1 no such user"])) as server:
        make_relay(engine, server.mailer(), clock).run_once()
    stored = row(engine, oid)
    workflow = practice_workflow(engine, clock)
    with read_session(engine) as s:
        from linker_tui.store.models import OnlineRequest

        request = s.get(OnlineRequest, stored.request_id)
        assert request is not None
        version = request.version
    workflow.reopen(stored.request_id, expected_version=version)
    retry_email(engine, oid, clock)
    with smtp_server() as server:
        report = make_relay(engine, server.mailer(), clock).run_once()
    assert report.cancelled == 1 and server.handler.accepted == []
    assert row(engine, oid).last_error == "the request is no longer linked"


def test_two_relays_at_once_send_each_row_exactly_once(engine: Engine) -> None:
    ids = [
        linked_email(engine, first=f"P{i}", last="Many", address=f"p{i}@example.com")
        for i in range(24)
    ]
    clock = FixedClock(NOW)
    reports = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    with smtp_server() as server:

        def work(worker: str) -> None:
            own_engine = make_engine(str(engine.url.render_as_string(hide_password=False)))
            try:
                relay = make_relay(own_engine, server.mailer(), clock, worker)
                start.wait()
                reports.append(relay.run_once())
            except BaseException as exc:
                errors.append(exc)
            finally:
                own_engine.dispose()

        threads = [threading.Thread(target=work, args=(f"desk-{n}",)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert len(reports) == 2
    sent_by = [r.outbox_id for report in reports for r in report.results]
    assert sorted(sent_by) == sorted(ids)  # every row, by one relay or the other
    assert all(r.outcome is Outcome.SENT for report in reports for r in report.results)
    delivered = Counter(server.handler.accepted_ids())
    assert len(delivered) == 24 and set(delivered.values()) == {1}
    with read_session(engine) as s:
        rows = s.execute(sa.select(EmailOutbox)).scalars().all()
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


class _NeverMailer:
    def deliver(self, message: object) -> None:
        raise AssertionError("must not be called")
