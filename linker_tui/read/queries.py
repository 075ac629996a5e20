"""The read side of the request list: pages of rows, counts per state, one request's detail.

Every query is paged and index-backed, so the list stays fast with 10,000 open requests.
The list's pages and counts are read with SQLAlchemy Core on the tables
(:mod:`linker_tui.store.tables`): the first page is shown before the ORM is imported.
The detail pane reads the ORM objects of the patient and the linked appointment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linker_tui.read.filter import indexed_words, text_condition
from linker_tui.read.match_hints import (
    exact_appointment_clause,
    linked_elsewhere_clause,
    patient_status,
)
from linker_tui.read.views import RequestDetail, RequestRow, appointment_view
from linker_tui.store.enums import BOOKABLE_STATUSES, RequestState
from linker_tui.store.search import open_requests
from linker_tui.store.tables import (
    appointment,
    audit_event,
    online_request,
    provider,
    provider_name,
    sync_run,
    typed_name,
)

PAGE_SIZE = 100


@dataclass(frozen=True)
class ListQuery:
    """Which requests the list shows."""

    show_handled: bool = False
    text: str = ""


@dataclass(frozen=True)
class RequestPage:
    """One page of the request list."""

    rows: tuple[RequestRow, ...]
    offset: int
    total: int | None
    """How many requests the list holds; None: not counted (:func:`request_count` tells)."""


def _filtered(query: ListQuery, connection: sa.Connection) -> sa.ColumnElement[bool]:
    """The rows the list holds: the open ones (unless handled ones are shown) that match
    the filter text (:mod:`linker_tui.read.filter`)."""
    table = online_request
    states = sa.true() if query.show_handled else open_requests(table.c.state)
    if not query.text.strip():
        return states
    listed = 0  # how many the list holds without the text: SQLite's plan weighs words
    if connection.dialect.name == "sqlite" and indexed_words(query.text):
        count = sa.select(sa.func.count()).select_from(table).where(states)
        listed = connection.execute(count).scalar_one()
    return sa.and_(states, text_condition(connection, table, query.text, listed))


def _count(connection: sa.Connection, where: sa.ColumnElement[bool]) -> int:
    statement = sa.select(sa.func.count()).select_from(online_request).where(where)
    return int(connection.execute(statement).scalar_one())


def request_count(engine: Engine, query: ListQuery) -> int:
    """How many requests the list holds (the filter's count, read after its page)."""
    with engine.connect() as connection:
        return _count(connection, _filtered(query, connection))


def request_page(
    engine: Engine,
    query: ListQuery,
    offset: int,
    tz: ZoneInfo,
    now: datetime,
    *,
    counted: bool = True,
) -> RequestPage:
    """Rows ``offset`` .. ``offset + PAGE_SIZE`` of the list, oldest request first, and
    how many there are (unless ``counted`` is false: a filter key shows the page first).

    A request whose patient is not known yet says what its stored patient ranking says
    (whether staff will be asked "Is this the same patient?"): requests are ranked on
    arrival, and ones never ranked by the sync
    (:func:`linker_tui.matching.patient_search.rank_unranked`), never here."""
    with engine.connect() as connection:
        where = _filtered(query, connection)
        total = _count(connection, where) if counted else None
        if total is not None:  # past the end (rows went meanwhile): the last page
            offset = max(0, min(offset, max(0, total - 1) // PAGE_SIZE * PAGE_SIZE))
        # The page's ids first, so the per-row match hints are computed for 100 rows,
        # not for every row before sorting; then their rows, with a statement that is
        # the same for every page (built and compiled once).
        page_ids = (
            sa.select(online_request.c.id)
            .where(where)
            .order_by(online_request.c.received_at, online_request.c.id)
            .offset(offset)
            .limit(PAGE_SIZE)
        )
        ids = connection.execute(page_ids).scalars().all()
        rows = _read_rows(connection, ids, _day_start(now, tz))
    return RequestPage(rows=rows, offset=offset, total=total)


def _day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of ``now``'s day at the practice: appointments from then on are upcoming."""
    return datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)


def _read_rows(
    connection: sa.Connection, ids: Sequence[int], today: datetime
) -> tuple[RequestRow, ...]:
    """The list's rows of the requests ``ids``, in the list's order; appointments from
    ``today`` on are upcoming."""
    if not ids:
        return ()
    found = connection.execute(rows_statement(), {"ids": list(ids), "today": today})
    return tuple(_row(*columns) for columns in found)


@cache
def rows_statement() -> sa.Select[Any]:
    """The requests whose ids are bound as ``ids``, in the list's order, with what a row
    shows (:func:`_row`'s columns): the request's columns, its requested provider's name
    parts, its exact kind ("exact match", "duplicate" or "") and how many bookable
    appointments from ``today`` (bound) on. One statement for every page, built once:
    SQLAlchemy then compiles it once (psycopg prepares nothing that outlives a read: it
    drops its prepared statements at the read's rollback)."""
    requested = provider.alias("requested")
    upcoming = (
        sa.select(sa.func.count())
        .select_from(appointment)
        .where(
            appointment.c.patient_id == online_request.c.patient_id,
            appointment.c.status.in_(BOOKABLE_STATUSES),
            appointment.c.start >= sa.bindparam("today"),
        )
        .scalar_subquery()
    )
    return (
        sa.select(
            *(online_request.c[name] for name in _REQUEST_COLUMNS),
            requested.c.id,
            *(requested.c[name] for name in _PROVIDER_NAME),
            _exact_kind(),
            upcoming,
        )
        .join(
            requested,
            online_request.c.requested_provider_id == requested.c.id,
            isouter=True,
        )
        .where(online_request.c.id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(online_request.c.received_at, online_request.c.id)
    )


_REQUEST_COLUMNS = (
    "id",
    "external_id",
    "received_at",
    "typed_first_name",
    "typed_last_name",
    "requested_start",
    "reason",
    "state",
    "patient_id",
    "patient_match_level",
    "patient_match_count",
    "version",
    "attention",
)
"""The request's columns a row is made of (:func:`_row`'s first arguments)."""
_PROVIDER_NAME = ("title", "first_name", "last_name", "abbr", "pms_id")
"""The requested provider's columns its name is made of (``provider_name``'s)."""


def _exact_kind() -> sa.ColumnElement[str]:
    """SQL, for a query of requests: ``"exact match"``, ``"duplicate"`` (every exact
    appointment of the request's patient is already linked to another request: what
    Accept offers to close as a duplicate) or ``""`` (none)."""
    exact = (
        appointment.c.patient_id == online_request.c.patient_id,
        exact_appointment_clause(),
        appointment.c.status.in_(BOOKABLE_STATUSES),
    )
    free = sa.select(appointment.c.id).where(*exact, ~linked_elsewhere_clause()).exists()
    return sa.case(
        (free, "exact match"),
        (sa.select(appointment.c.id).where(*exact).exists(), "duplicate"),
        else_="",
    )


def _row(
    id: int,
    external_id: str,
    received_at: datetime,
    first_name: str,
    last_name: str,
    requested_start: datetime,
    reason: str,
    state: RequestState,
    patient_id: int | None,
    match_level: str,
    match_count: int,
    version: int,
    attention: str,
    provider_id: int | None,
    title: str,
    provider_first: str,
    provider_last: str,
    abbr: str,
    pms_id: str,
    exact: str,
    upcoming: int | None,
) -> RequestRow:
    """A row of :func:`rows_statement` as the list shows it."""
    status = patient_status(patient_id, match_level, match_count)
    if attention:
        # Text, not only colour: the sync flagged the request for staff.
        hint = "! appt changed" if state is RequestState.LINKED else "! can link now"
    elif state is RequestState.LINKED:
        hint = "linked"
    elif patient_id is None:
        hint = status
    elif exact:
        hint = exact
    elif upcoming:
        hint = f"{upcoming} scheduled" if upcoming > 1 else "1 scheduled"
    else:
        hint = "nothing scheduled"
    return RequestRow(
        id=id,
        external_id=external_id,
        received_at=received_at,
        typed_name=typed_name(first_name, last_name),
        requested_start=requested_start,
        requested_provider_name=(
            provider_name(title, provider_first, provider_last, abbr, pms_id)
            if provider_id is not None
            else ""
        ),
        reason=reason,
        state=state,
        patient_id=patient_id,
        match_hint=hint,
        patient_status=status,
        version=version,
        attention=attention,
    )


@dataclass(frozen=True)
class ChangeStamp:
    """A cheap fingerprint of what the request list shows: when it differs from the last
    one, another workstation (or the sync) changed something and the list is read again."""

    last_audit_id: int
    requests: int
    last_received_at: datetime | None
    last_sync_id: int
    last_sync_status: str


def change_stamp(engine: Engine) -> ChangeStamp:
    """One small, index-backed query: every decision is audited (``audit_event`` ids only
    grow), new requests change the count, a sync run adds or finishes a ``sync_run`` row."""
    newest_run = sa.select(sa.func.max(sync_run.c.id)).scalar_subquery()
    statement = sa.select(
        sa.select(sa.func.max(audit_event.c.id)).scalar_subquery(),
        sa.select(sa.func.count()).select_from(online_request).scalar_subquery(),
        sa.select(sa.func.max(online_request.c.received_at)).scalar_subquery(),
        newest_run,
        sa.select(sync_run.c.status).where(sync_run.c.id == newest_run).scalar_subquery(),
    )
    with engine.connect() as connection:
        audit, requests, received, run, status = connection.execute(statement).one()
    return ChangeStamp(int(audit or 0), int(requests or 0), received, int(run or 0), status or "")


def state_counts(engine: Engine) -> dict[RequestState, int]:
    """How many requests are in each state."""
    state = online_request.c.state
    with engine.connect() as connection:
        rows = connection.execute(sa.select(state, sa.func.count()).group_by(state)).all()
    counts = dict.fromkeys(RequestState, 0)
    for found, count in rows:
        counts[RequestState(found)] = count
    return counts


def request_detail(engine: Engine, request_id: int, tz: ZoneInfo, now: datetime) -> RequestDetail:
    """Everything about one request, for the detail pane: its list row (the list's own
    statement) and what only the pane shows."""
    from linker_tui.store.db import read_session
    from linker_tui.store.models import Appointment, OnlineRequest, Patient, Provider

    with read_session(engine) as session:
        request = session.get(OnlineRequest, request_id)
        if request is None:
            raise LookupError(f"request {request_id} does not exist")
        patient = session.get(Patient, request.patient_id) if request.patient_id else None
        linked = None
        if request.linked_appointment_id is not None:
            found = session.get(Appointment, request.linked_appointment_id)
            if found is not None:
                by = session.get(Provider, found.provider_id) if found.provider_id else None
                linked = appointment_view(found, by)
        (row,) = _read_rows(session.connection(), [request_id], _day_start(now, tz))
        return RequestDetail(
            row=row,
            typed_birthdate=request.typed_birthdate,
            typed_email=request.typed_email,
            typed_phone=request.typed_phone,
            note=request.note,
            patient_name=patient.display_name if patient else "",
            patient_status=row.patient_status,
            patient_no_email=bool(patient and patient.no_email),
            linked=linked,
            reject_reason=request.reject_reason,
            decided_by=request.decided_by,
            decided_at=request.decided_at,
        )
