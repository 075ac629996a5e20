"""The outbox relay: claim a due email with a lease, send it, record how it went.

Guarantees (see docs/email.md):

* **Nothing is lost.** A row leaves ``queued``/``sending`` only as ``sent`` (the server or
  the file backend took it), ``failed`` (permanent error, or ``max_attempts`` temporary
  ones) or ``cancelled`` (staff, a reopened request, or the patient's no-email flag).
* **No two relays send the same row at once.** A relay claims a row with one conditional
  ``UPDATE … SET status='sending', claimed_by=…, lease_until=…`` checked by its row count,
  in its own transaction (``BEGIN IMMEDIATE`` on SQLite, a row lock on PostgreSQL), and
  sends only when it won the row. The send happens outside any transaction.
* **The crash window.** If a relay dies (or loses its database connection) after the
  server accepted the message but before it recorded ``sent``, the row stays ``sending``
  until its lease runs out; then another run claims and sends it again, with the same
  Message-ID. So a message is sent at most twice, and only then. The same happens when
  a send outlasts the lease (the lease, 5 minutes by default, is far above the SMTP
  timeout), or when the connection drops after the server accepted the data but before
  its reply arrived (RFC 1047).
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session, col, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock
from linker_tui.mail.message import InvalidHeader, build_message, new_message_id
from linker_tui.mail.pause import PauseState, ServerPause, same_code_streak
from linker_tui.mail.report import Outcome, RelayReport, RelayResult
from linker_tui.mail.transport import DeliveryFailure, Mailer
from linker_tui.store.db import db_now, read_session, write_session
from linker_tui.store.enums import AppointmentStatus, OutboxStatus, RequestState
from linker_tui.store.models import Appointment, EmailOutbox, OnlineRequest, Patient

log = logging.getLogger(__name__)

NO_EMAIL_REASON = "patient asked not to be emailed"
_MAX_ERROR = 500


@dataclass(frozen=True)
class RelayPolicy:
    """Retry and lease settings."""

    max_attempts: int = 8
    retry_base: timedelta = timedelta(minutes=1)
    retry_cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed try: base * 2**(attempts-1), capped."""
        exponent = min(max(attempts - 1, 0), 40)
        wait: timedelta = min(self.retry_base * (2**exponent), self.retry_cap)
        return wait


@dataclass
class _Claimed:
    row: EmailOutbox
    cancelled: str = ""


def _claimable(now: datetime, lease_now: Any) -> Any:
    """Rows a relay may claim now: queued and due with no live lease, or stuck in
    ``sending`` with an expired lease (a relay died after claiming). Leases are timed by
    ``lease_now``: the database server's clock on PostgreSQL (a desk whose clock runs
    fast does not take over a row another desk is sending), the desk's on SQLite."""
    due = sa.or_(
        col(EmailOutbox.next_attempt_at).is_(None), col(EmailOutbox.next_attempt_at) <= now
    )
    expired = col(EmailOutbox.lease_until) < lease_now
    free = sa.or_(col(EmailOutbox.lease_until).is_(None), expired)
    return sa.or_(
        sa.and_(col(EmailOutbox.status) == OutboxStatus.QUEUED.value, due, free),
        sa.and_(col(EmailOutbox.status) == OutboxStatus.SENDING.value, expired),
    )


def rowcount(result: Any) -> int:
    """Rows an UPDATE changed."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def clip(text: str) -> str:
    """An error text on one line, cut to what ``last_error`` keeps."""
    return " ".join(text.split())[:_MAX_ERROR]


def new_worker_id(actor: Actor | None = None) -> str:
    """``alice@desk-1/4242/3f9a1c``: who holds a claim (user, workstation, process, run)."""
    who = actor.label if actor else "relay"
    return f"{who}/{os.getpid()}/{uuid.uuid4().hex[:6]}"


def why_not_send(session: Session, row: EmailOutbox) -> str:
    """Why the email of ``row`` should not go out now ("" when it may): its request is no
    longer linked to its appointment, the appointment is gone or no longer booked, or the
    patient asked not to be emailed (checked at send time, and before a resend)."""
    appointment = session.get(Appointment, row.appointment_id)
    request = session.get(OnlineRequest, row.request_id)
    if request is None or request.state != RequestState.LINKED.value:
        return "the request is no longer linked"
    if request.linked_appointment_id != row.appointment_id:
        return "the request is now linked to another appointment"
    if appointment is None:
        return "the appointment is no longer in the PMS data"
    if not AppointmentStatus(appointment.status).bookable:
        return f"the appointment is now {appointment.status} in the PMS"
    patient = session.get(Patient, appointment.patient_id)
    if patient is not None and patient.no_email:
        return NO_EMAIL_REASON
    return ""


class OutboxRelay:
    """Sends due outbox rows through a mailer, one claimed row at a time."""

    def __init__(
        self,
        engine: Engine,
        mailer: Mailer,
        clock: Clock,
        *,
        sender: str,
        sender_name: str = "",
        worker_id: str | None = None,
        policy: RelayPolicy | None = None,
        pause: ServerPause | None = None,
    ) -> None:
        self.engine = engine
        self.mailer = mailer
        self.clock = clock
        self.sender = sender
        self.sender_name = sender_name
        self.worker_id = worker_id or new_worker_id()
        self.policy = policy or RelayPolicy()
        self.pause = pause or ServerPause()
        """Shared by the runs of one process (``Services``), so a pause outlives a run."""

    # ------------------------------------------------------------------ running
    def due_ids(self, limit: int | None = None) -> list[int]:
        """Rows that may be claimed now, oldest first."""
        claimable = _claimable(self.clock.now(), db_now(self.engine, self.clock))
        query = select(EmailOutbox.id).where(claimable).order_by(col(EmailOutbox.id))
        if limit is not None:
            query = query.limit(limit)
        with read_session(self.engine) as session:
            return [i for i in session.exec(query).all() if i is not None]

    def run_once(self, limit: int | None = None) -> RelayReport:
        """Try every due row once (rows queued meanwhile wait for the next run).

        Stops early when the problem is the server or the connection rather than a
        message (the row that met it is rescheduled; the others are left untouched). When
        the server is away for every message (:mod:`linker_tui.mail.pause`), the rows that
        met it get their attempt back and the relay pauses: runs before the pause ends do
        nothing.
        """
        paused = self.pause.active(self.clock.now())
        if paused is not None:
            return RelayReport(stopped=_paused_text(paused))
        results: list[RelayResult] = []
        streak: list[RelayResult] | None = []  # temporary failures since the run began
        for outbox_id in self.due_ids(limit):
            try:
                result = self.send(outbox_id)
            except _StopRun as stop:
                results.append(stop.result)
                why = _paused_text(stop.paused) if stop.paused else stop.result.reason
                return RelayReport(tuple(results), stopped=why)
            if result is None:
                continue
            results.append(result)
            if result.outcome is Outcome.SENT:
                self.pause.cleared()
            temporary = result.outcome is Outcome.RETRY and result.code is not None
            streak = [*streak, result] if streak is not None and temporary else None
            if streak and same_code_streak([r.code for r in streak], complete=False):
                return self._server_refuses(results, streak)
        if streak and same_code_streak([r.code for r in streak], complete=True):
            return self._server_refuses(results, streak)
        return RelayReport(tuple(results))

    def _server_refuses(self, results: list[RelayResult], streak: list[RelayResult]) -> RelayReport:
        """The same 4xx for every message: the server's failure. Give the rows their
        attempts back, wait until the pause ends, and stop."""
        state = self.pause.failed(self.clock.now(), streak[0].reason, self.policy.backoff)
        ids = [r.outbox_id for r in streak]
        with write_session(self.engine) as session:
            session.execute(
                sa.update(EmailOutbox)
                .where(
                    col(EmailOutbox.id).in_(ids),
                    col(EmailOutbox.status) == OutboxStatus.QUEUED.value,
                )
                .values(attempts=col(EmailOutbox.attempts) - 1, next_attempt_at=state.until)
                .execution_options(synchronize_session=False)
            )
        log.warning("outbox: the server refuses every message, %s", _paused_text(state))
        again = {r.outbox_id: replace(r, next_attempt_at=state.until) for r in streak}
        return RelayReport(
            tuple(again.get(r.outbox_id, r) for r in results), stopped=_paused_text(state)
        )

    def send(self, outbox_id: int) -> RelayResult | None:
        """Claim, send and record one row; None when it was not claimable (sent, not due,
        or another relay holds it)."""
        claimed = self.claim(outbox_id)
        if claimed is None:
            return None
        if claimed.cancelled:
            return RelayResult(outbox_id, Outcome.CANCELLED, claimed.cancelled)
        row = claimed.row
        try:
            message = build_message(row, self.sender, self.sender_name, self.clock.now())
            self.mailer.deliver(message)
        except InvalidHeader as exc:
            return self._record_failure(row, str(exc), permanent=True)
        except DeliveryFailure as exc:
            if exc.server_away and not exc.permanent:
                paused = self.pause.failed(self.clock.now(), exc.reason, self.policy.backoff)
                raise _StopRun(self._give_back(row, exc.reason, paused.until), paused) from exc
            result = self._record_failure(row, exc.reason, permanent=exc.permanent, code=exc.code)
            if exc.whole_run:
                raise _StopRun(result) from exc
            return result
        except Exception as exc:  # a bug or an unforeseen error: keep the row, retry later
            log.exception("outbox %s: unexpected error while sending", outbox_id)
            return self._record_failure(
                row, f"unexpected error: {type(exc).__name__}: {exc}", permanent=False
            )
        return self._record_sent(row)

    # ----------------------------------------------------------------- claiming
    def claim(self, outbox_id: int) -> _Claimed | None:
        """Take the row with a lease, in one transaction checked by row count.

        The patient's no-email flag, the request's link and the appointment's status are
        checked again here: a row that should no longer go out is cancelled instead.
        """
        now = self.clock.now()
        lease_now = db_now(self.engine, self.clock)
        with write_session(self.engine) as session:
            taken = session.execute(
                sa.update(EmailOutbox)
                .where(col(EmailOutbox.id) == outbox_id, _claimable(now, lease_now))
                .values(
                    status=OutboxStatus.SENDING.value,
                    claimed_by=self.worker_id,
                    lease_until=lease_now + self.policy.lease,
                    attempts=col(EmailOutbox.attempts) + 1,
                    last_attempt_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if rowcount(taken) != 1:
                return None
            row = session.exec(
                select(EmailOutbox)
                .where(EmailOutbox.id == outbox_id)
                .execution_options(populate_existing=True)
            ).one()
            reason = self._why_not_send(session, row)
            if reason:
                row.status = OutboxStatus.CANCELLED
                row.last_error = reason
                row.attempts -= 1  # nothing was attempted
                row.claimed_by = ""
                row.lease_until = None
                session.add(row)
                log.info("outbox %s cancelled at send time: %s", outbox_id, reason)
                return _Claimed(row, cancelled=reason)
            if not row.message_id:
                row.message_id = new_message_id(self.sender)
                session.add(row)
            session.flush()
            return _Claimed(row)

    @staticmethod
    def _why_not_send(session: Session, row: EmailOutbox) -> str:
        return why_not_send(session, row)

    # ---------------------------------------------------------------- recording
    def _finish(self, outbox_id: int, **values: Any) -> bool:
        """Record the outcome if this relay still holds the claim."""
        with write_session(self.engine) as session:
            done = session.execute(
                sa.update(EmailOutbox)
                .where(
                    col(EmailOutbox.id) == outbox_id,
                    col(EmailOutbox.status) == OutboxStatus.SENDING.value,
                    col(EmailOutbox.claimed_by) == self.worker_id,
                )
                .values(claimed_by="", lease_until=None, **values)
                .execution_options(synchronize_session=False)
            )
            held = rowcount(done) == 1
        if not held:
            log.warning(
                "outbox %s: the claim expired before the result was recorded "
                "(another relay took the row over)",
                outbox_id,
            )
        return held

    def _record_sent(self, row: EmailOutbox) -> RelayResult:
        assert row.id is not None
        self._finish(
            row.id, status=OutboxStatus.SENT.value, sent_at=self.clock.now(), last_error=""
        )
        log.info("outbox %s sent (%s)", row.id, row.message_id)
        return RelayResult(row.id, Outcome.SENT)

    def _give_back(self, row: EmailOutbox, reason: str, until: datetime) -> RelayResult:
        """Not the message's fault: queued again without the attempt, until ``until``."""
        assert row.id is not None
        reason = clip(reason)
        self._finish(
            row.id,
            status=OutboxStatus.QUEUED.value,
            attempts=row.attempts - 1,
            next_attempt_at=until,
            last_error=reason,
        )
        return RelayResult(row.id, Outcome.RETRY, reason, until)

    def _record_failure(
        self, row: EmailOutbox, reason: str, *, permanent: bool, code: int | None = None
    ) -> RelayResult:
        assert row.id is not None
        reason = clip(reason)
        if permanent or row.attempts >= self.policy.max_attempts:
            if not permanent:
                reason = clip(f"gave up after {row.attempts} attempts: {reason}")
            self._finish(row.id, status=OutboxStatus.FAILED.value, last_error=reason)
            log.warning("outbox %s failed: %s", row.id, reason)
            return RelayResult(row.id, Outcome.FAILED, reason, code=code)
        retry_at = self.clock.now() + self.policy.backoff(row.attempts)
        self._finish(
            row.id,
            status=OutboxStatus.QUEUED.value,
            next_attempt_at=retry_at,
            last_error=reason,
        )
        log.info("outbox %s will be retried at %s: %s", row.id, retry_at.isoformat(), reason)
        return RelayResult(row.id, Outcome.RETRY, reason, retry_at, code)


def _paused_text(state: PauseState) -> str:
    until = state.until.isoformat(timespec="minutes")
    return f"mail server unavailable, paused until {until}: {state.reason}"


class _StopRun(Exception):
    def __init__(self, result: RelayResult, paused: PauseState | None = None) -> None:
        super().__init__(result.reason)
        self.result = result
        self.paused = paused
