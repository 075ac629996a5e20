"""Attention flags: what the sync asks staff to look at on a request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from linker_tui.common.actor import Actor
from linker_tui.common.clock import FixedClock
from linker_tui.store.enums import RequestState
from linker_tui.workflow.trail import decide, read_request


@dataclass(frozen=True)
class AttentionFlag:
    """Something the sync wants staff to look at on a request, valid only while the request
    is still in ``state`` (and, for a linked one, still linked to ``linked_appointment_id``)."""

    request_id: int
    text: str  # "" clears the flag
    state: RequestState
    linked_appointment_id: int | None = None
    note: str = ""  # for the audit trail instead of ``text`` (why a flag is cleared)


def flag_for_attention(
    session: Session, flags: Sequence[AttentionFlag], now: datetime, actor: Actor
) -> int:
    """Set ``attention`` on requests, in the caller's transaction (the sync's); each one
    audited as the system (the desk that ran the sync in the detail) and its version
    bumped (a decision shown before is refused: look again).

    Nothing else about the request changes. A flag whose request has moved on (another
    state or link) or already says the same is skipped. ``now`` is the desk's time (SQLite;
    PostgreSQL takes the server's). Returns the requests flagged.
    """
    clock = FixedClock(now)
    flagged = 0
    for flag in flags:
        request = read_request(session, flag.request_id)
        if request is None or request.state != flag.state.value:
            continue
        if (
            flag.linked_appointment_id is not None
            and request.linked_appointment_id != flag.linked_appointment_id
        ):
            continue
        if request.attention == flag.text:
            continue
        detail = f"{flag.note or flag.text} (found by the sync on {actor.label})"
        changes = {"attention": flag.text}
        if decide(session, request, "attention", changes, detail, actor, clock, system=True):
            flagged += 1
    return flagged
