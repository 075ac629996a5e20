"""``linker-tui audit --verify``: is the audit trail complete?

Every change of a request's decision bumps its version and writes one audit event whose
``before`` and ``after`` carry the version and state (:mod:`linker_tui.workflow.trail`). So the
trail of a request is complete when its events, in the order they were written, chain
from version 1 to the request's current version without a hole (``before`` of each is
``after`` of the one before), their times never go back, and the last one's state is the
request's state now. A decided request with no events at all is a gap too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.common.text import clean
from linker_tui.store.db import read_session
from linker_tui.store.enums import RequestState
from linker_tui.store.models import AuditEvent, OnlineRequest


@dataclass(frozen=True)
class Gap:
    """Something missing or out of order in one request's trail."""

    request: str  # the request's id as staff know it (external id)
    problem: str

    def __str__(self) -> str:
        return clean(f"{self.request}: {self.problem}", single_line=True)


@dataclass
class TrailReport:
    """What ``audit --verify`` found."""

    requests: int = 0
    events: int = 0
    gaps: list[Gap] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether no gap was found."""
        return not self.gaps


@dataclass(frozen=True)
class _Step:
    event_id: int
    at: datetime
    action: str
    before: dict[str, Any]
    after: dict[str, Any]


def _facts(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _steps(events: Iterable[AuditEvent]) -> Iterator[_Step | int]:
    """The request events (those that carry a version), or the id of an unreadable one."""
    for event in events:
        before, after = _facts(event.before), _facts(event.after)
        if before is None or after is None:
            if event.action.startswith("email_"):
                continue
            assert event.id is not None
            yield event.id
            continue
        if "version" not in after:
            continue  # about something else of the request (its emails)
        assert event.id is not None
        yield _Step(event.id, event.at, event.action, before, after)


def check_request(request: OnlineRequest, events: Iterable[AuditEvent]) -> list[str]:
    """The problems of one request's trail (empty: complete)."""
    problems: list[str] = []
    expected, last_at, last_state = 1, None, RequestState.PENDING.value
    for step in _steps(events):
        if isinstance(step, int):
            problems.append(f"audit event {step} cannot be read")
            continue
        shown, made = step.before.get("version"), step.after.get("version")
        if shown != expected:
            problems.append(
                f"events missing between version {expected} and {shown} "
                f"(before audit event {step.event_id}, {step.action})"
            )
        if not isinstance(made, int) or not isinstance(shown, int) or made != shown + 1:
            problems.append(f"audit event {step.event_id} goes from version {shown} to {made}")
        if last_at is not None and step.at < last_at:
            problems.append(f"audit event {step.event_id} is dated before the one it follows")
        expected = made if isinstance(made, int) else expected
        last_at, last_state = step.at, str(step.after.get("state", ""))
    if last_at is None and not RequestState(request.state).open:
        problems.append(f"the request is {request.state} but has no audit event")
    elif request.version != expected:
        problems.append(
            f"the request is at version {request.version} but its trail ends at {expected}"
        )
    elif request.state != last_state:
        problems.append(
            f"the request is {request.state} but its last audit event says {last_state}"
        )
    return problems


def verify_trail(engine: Engine) -> TrailReport:
    """Check every request's trail (see the module's docstring)."""
    report = TrailReport()
    with read_session(engine) as session:
        requests = session.exec(select(OnlineRequest).order_by(col(OnlineRequest.id))).all()
        events = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.request_id).is_not(None))
            .order_by(col(AuditEvent.request_id), col(AuditEvent.id))
        ).all()
    by_request: dict[int, list[AuditEvent]] = {}
    for event in events:
        assert event.request_id is not None
        by_request.setdefault(event.request_id, []).append(event)
    report.events = len(events)
    for request in requests:
        assert request.id is not None
        report.requests += 1
        for problem in check_request(request, by_request.get(request.id, [])):
            report.gaps.append(Gap(request.external_id, problem))
    return report
