"""The audit trail: one decision skeleton, one audit-row writer, the database's clock.

Every change of a request's decision (link, reject, defer, reopen, patient choice,
attention flags) goes through :func:`decide`: the caller has read the request and
checked it is still open; ``decide`` snapshots it, applies the change on the version
shown (``version + 1``) and writes the audit row, in the caller's transaction.

* **PostgreSQL** (several desks): the database does it. ``linker_decide`` (a SECURITY
  DEFINER function of the admin role, migration ``0002_server_trail``) locks the row,
  re-checks the version, applies the change; a trigger writes the audit row from the
  actual before/after rows, with the server's time (``clock_timestamp()``) and its own
  record of who is connected (``session_user``, ``application_name``). The desks' role
  may neither write ``audit_event`` nor update ``online_request`` directly.
* **SQLite** (one desk): the same steps in Python, with the desk's clock, and
  :func:`record` is the writer.

The desk adds what only it knows, as information: who sits there (``desk_user``: the
staff member, the OS login until staff sign in; ``system`` for the sync), its OS login,
machine and its own clock (``desk_at``). Rows are readable later: PMS ids, the patient's
name, the appointment's time and provider as they were (:func:`request_facts`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock, SystemClock
from linker_tui.store.db import read_session
from linker_tui.store.enums import RequestState
from linker_tui.store.models import Appointment, AuditEvent, OnlineRequest, Patient, Provider

log = logging.getLogger(__name__)

SYSTEM = "system"
"""``desk_user`` of what the app did by itself (sync flags); the desk goes in the detail."""

DECISION_FIELDS = frozenset(
    {"state", "patient_id", "patient_chosen_by", "linked_appointment_id", "reject_reason"}
    | {"attention"}
)
"""What a decision may change; ``decided_by``/``_at``, ``attention_at`` and ``version``
follow from it (the same rules in ``linker_decide``)."""

_TABLE = OnlineRequest.__table__


def on_server(bind: Engine | Session) -> bool:
    """Whether time and identity come from the database server (PostgreSQL)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def clock_skew(engine: Engine, clock: Clock | None = None) -> timedelta | None:
    """How far the desk's clock is ahead of the database server's (negative: behind);
    None on SQLite, where the desk's clock is the only one. Measured around one query,
    against its midpoint (good to the round trip)."""
    if engine.dialect.name != "postgresql":
        return None
    clock = clock or SystemClock()
    with engine.connect() as connection:
        before = clock.now()
        server: datetime = connection.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        after = clock.now()
    return before + (after - before) / 2 - server


# ------------------------------------------------------------ readable snapshots
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def request_facts(session: Session, request: OnlineRequest) -> dict[str, Any]:
    """The request as a person reads it later (``linker_request_facts`` on PostgreSQL)."""
    patient = session.get(Patient, request.patient_id) if request.patient_id else None
    appointment = None
    if request.linked_appointment_id is not None:
        linked = session.get(Appointment, request.linked_appointment_id)
        if linked is not None:
            provider = session.get(Provider, linked.provider_id) if linked.provider_id else None
            appointment = {
                "pms_id": linked.pms_id,
                "start": _iso(linked.start),
                "provider": provider.display_name if provider else "",
                "status": linked.status,
            }
    return {
        "request": request.external_id,
        "state": request.state,
        "version": request.version,
        "patient": {"pms_id": patient.pms_id, "name": patient.display_name} if patient else None,
        "appointment": appointment,
        "reject_reason": request.reject_reason,
        "attention": request.attention,
        "patient_chosen_by": request.patient_chosen_by,
        "decided_by": request.decided_by,
    }


# ------------------------------------------------------------ writing
def record(
    session: Session,
    *,
    action: str,
    request_id: int | None,
    before: dict[str, Any],
    after: dict[str, Any],
    detail: str,
    actor: Actor,
    clock: Clock,
    system: bool = False,
) -> None:
    """Write one audit row on SQLite (the only writer of one there). On PostgreSQL the
    database wrote it already, from the rows it changed: nothing to do."""
    if on_server(session):
        return
    now = clock.now()
    session.add(
        AuditEvent(
            at=now,
            desk_at=now,
            desk_user=SYSTEM if system else actor.desk_user,
            os_user=actor.os_user,
            workstation=actor.workstation,
            action=action,
            request_id=request_id,
            before=json.dumps(before, sort_keys=True),
            after=json.dumps(after, sort_keys=True),
            detail=detail,
        )
    )


def explain(
    session: Session, action: str, detail: str, actor: Actor, clock: Clock, system: bool = False
) -> None:
    """Tell the database's trigger (PostgreSQL) why the next change in this transaction is
    made and by whom at the desk; on SQLite :func:`record` carries it."""
    if not on_server(session):
        return
    values = {
        "action": action,
        "detail": detail,
        "desk_user": SYSTEM if system else actor.desk_user,
        "os_user": actor.os_user,
        "workstation": actor.workstation,
        "desk_at": clock.now().isoformat(),
    }
    settings = ", ".join(f"set_config('linker.{k}', :{k}, true)" for k in values)
    session.execute(sa.text(f"SELECT {settings}"), values)


def decide(
    session: Session,
    request: OnlineRequest,
    action: str,
    changes: dict[str, Any],
    detail: str,
    actor: Actor,
    clock: Clock,
    *,
    system: bool = False,
) -> bool:
    """Apply a decision to ``request`` (as read in this transaction) on its version, with
    its audit row; False, and nothing written, when it changed or went meanwhile.

    ``request`` is refreshed to the new row. The caller checked the decision applies.
    """
    unknown = set(changes) - DECISION_FIELDS
    if unknown:
        raise ValueError(f"a decision cannot change {sorted(unknown)}")
    assert request.id is not None
    desk_user = SYSTEM if system else actor.desk_user
    if on_server(session):
        done = _decide_on_server(session, request, action, changes, detail, actor, clock, desk_user)
    else:
        done = _decide_here(session, request, action, changes, detail, actor, clock, system)
    if done:
        _log_decision(session, request, action, f"{desk_user}@{actor.workstation}")
    return done


def _decide_on_server(
    session: Session,
    request: OnlineRequest,
    action: str,
    changes: dict[str, Any],
    detail: str,
    actor: Actor,
    clock: Clock,
    desk_user: str,
) -> bool:
    """PostgreSQL: ``linker_decide`` applies it and its trigger writes the audit row."""
    version = session.execute(
        sa.text(
            "SELECT linker_decide(:id, :version, :action, CAST(:changes AS jsonb), "
            ":detail, :desk_user, :os_user, :workstation, :desk_at)"
        ),
        {
            "id": request.id,
            "version": request.version,
            "action": action,
            "changes": json.dumps(changes),
            "detail": detail,
            "desk_user": desk_user,
            "os_user": actor.os_user,
            "workstation": actor.workstation,
            "desk_at": clock.now(),
        },
    ).scalar_one()
    if version is None:
        return False
    session.refresh(request)
    return True


def _decide_here(
    session: Session,
    request: OnlineRequest,
    action: str,
    changes: dict[str, Any],
    detail: str,
    actor: Actor,
    clock: Clock,
    system: bool,
) -> bool:
    """SQLite: the same steps in Python, with the desk's clock; :func:`record` audits."""
    before = request_facts(session, request)
    now = clock.now()
    desk_user = SYSTEM if system else actor.desk_user
    values = dict(changes, version=request.version + 1)
    if "state" in changes:
        decided = not RequestState(changes["state"]).open
        values["decided_by"] = f"{desk_user}@{actor.workstation}" if decided else ""
        values["decided_at"] = now if decided else None
    if "attention" in changes:
        values["attention_at"] = now if changes["attention"] else None
    done = session.execute(
        sa.update(_TABLE)
        .where(_TABLE.c.id == request.id, _TABLE.c.version == request.version)
        .values(**values)
    )
    session.refresh(request)
    if int(done.rowcount) != 1:  # type: ignore[attr-defined]
        return False
    after = request_facts(session, request)
    record(
        session,
        action=action,
        request_id=request.id,
        before=before,
        after=after,
        detail=detail,
        actor=actor,
        clock=clock,
        system=system,
    )
    return True


def _log_decision(session: Session, request: OnlineRequest, action: str, who: str) -> None:
    """Log the decision once its transaction has committed (a rolled-back one is none):
    request and appointment ids and the new state, never patient data."""
    line = (
        "request %s (id %s): %s -> %s by %s (appointment id %s)",
        (request.external_id, request.id, action, request.state, who,
         request.linked_appointment_id),
    )  # fmt: skip
    pending: list[tuple[str, tuple[object, ...]]] = session.info.setdefault("decisions", [])
    if not pending:

        def write(committed: Session) -> None:
            for text, values in committed.info.pop("decisions", []):
                log.info(text, *values)

        event.listen(session, "after_commit", write, once=True)
    pending.append(line)


def read_request(session: Session, request_id: int) -> OnlineRequest | None:
    """The request as it is now (the skeleton's first step). SQLite: the write transaction
    (``BEGIN IMMEDIATE``) holds the lock already; PostgreSQL: ``linker_decide`` locks the
    row and re-checks the version this read saw, so a plain read is enough."""
    return session.exec(
        select(OnlineRequest)
        .where(OnlineRequest.id == request_id)
        .execution_options(populate_existing=True)
    ).first()


def audit_trail(engine: Engine, request_id: int | None = None) -> Sequence[AuditEvent]:
    """The audit events, oldest first (all, or one request's)."""
    with read_session(engine) as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        if request_id is not None:
            query = query.where(AuditEvent.request_id == request_id)
        return session.exec(query).all()
