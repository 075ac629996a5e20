"""The read side of the request list: pages of rows, counts per state, one request's detail.

Every query is paged and index-backed, so the list stays fast with 10,000 open requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from linker_tui.matching.request_match import (
    exact_appointment_clause,
    linked_elsewhere_clause,
    request_patient_status,
)
from linker_tui.read.filter import text_condition
from linker_tui.read.views import RequestDetail, RequestRow, appointment_view
from linker_tui.store.db import read_session
from linker_tui.store.enums import BOOKABLE_STATUSES, RequestState
from linker_tui.store.models import (
    Appointment,
    AuditEvent,
    OnlineRequest,
    Patient,
    Provider,
    SyncRun,
)
from linker_tui.store.search import open_requests

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
    table = OnlineRequest.__table__  # type: ignore[attr-defined]
    states = sa.true() if query.show_handled else open_requests(table.c.state)
    if not query.text.strip():
        return states
    listed = 0  # how many the list holds without the text: SQLite's plan needs it
    if connection.dialect.name == "sqlite":
        count = sa.select(sa.func.count()).select_from(table).where(states)
        listed = connection.execute(count).scalar_one()
    return sa.and_(states, text_condition(connection, table, query.text, listed))


def _count(connection: sa.Connection, where: sa.ColumnElement[bool]) -> int:
    table = OnlineRequest.__table__  # type: ignore[attr-defined]
    statement = sa.select(sa.func.count()).select_from(table).where(where)
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
    with read_session(engine) as session:
        where = _filtered(query, session.connection())
        total = _count(session.connection(), where) if counted else None
        if total is not None:  # past the end (rows went meanwhile): the last page
            offset = max(0, min(offset, max(0, total - 1) // PAGE_SIZE * PAGE_SIZE))
        found = session.exec(_page_statement(where, offset, _day_start(now, tz))).all()
        rows = tuple(
            _row(request, provider, str(kind), int(count or 0))
            for request, provider, kind, count in found
        )
    return RequestPage(rows=rows, offset=offset, total=total)


def _day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of ``now``'s day at the practice: appointments from then on are upcoming."""
    return datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)


def _page_statement(
    where: sa.ColumnElement[bool], offset: int, today: datetime
) -> Select[OnlineRequest, Provider, str, int]:
    """The page's requests with their requested provider, their exact kind ("exact
    match", "duplicate" or "") and how many bookable appointments from ``today`` on."""
    # Pick the page's ids first, so the per-row match hints are computed for 100 rows,
    # not for every row before sorting.
    page_ids = (
        select(OnlineRequest.id)
        .where(where)
        .order_by(col(OnlineRequest.received_at), col(OnlineRequest.id))
        .offset(offset)
        .limit(PAGE_SIZE)
        .scalar_subquery()
    )
    requested = aliased(Provider)
    upcoming = (
        select(sa.func.count())
        .select_from(Appointment)
        .where(
            Appointment.patient_id == OnlineRequest.patient_id,
            col(Appointment.status).in_(BOOKABLE_STATUSES),
            col(Appointment.start) >= today,
        )
        .scalar_subquery()
    )
    return (
        select(OnlineRequest, requested, _exact_kind().label("exact"), upcoming.label("upcoming"))
        .join(requested, col(OnlineRequest.requested_provider_id) == requested.id, isouter=True)
        .where(col(OnlineRequest.id).in_(page_ids))
        .order_by(col(OnlineRequest.received_at), col(OnlineRequest.id))
    )


def _exact_kind() -> sa.ColumnElement[str]:
    """SQL, for a query of requests: ``"exact match"``, ``"duplicate"`` (every exact
    appointment of the request's patient is already linked to another request: what
    Accept offers to close as a duplicate) or ``""`` (none)."""
    exact = (
        Appointment.patient_id == OnlineRequest.patient_id,
        exact_appointment_clause(),
        col(Appointment.status).in_(BOOKABLE_STATUSES),
    )
    free = select(Appointment.id).where(*exact, ~linked_elsewhere_clause()).exists()
    return sa.case(
        (free, "exact match"),
        (select(Appointment.id).where(*exact).exists(), "duplicate"),
        else_="",
    )


def _match_hint(request: OnlineRequest, exact: str, upcoming: int) -> str:
    if request.attention:
        # Text, not only colour: the sync flagged the request for staff.
        return "! appt changed" if request.state == RequestState.LINKED.value else "! can link now"
    if request.state == RequestState.LINKED.value:
        return "linked"
    if request.patient_id is None:
        return request_patient_status(request)
    if exact:
        return exact
    if upcoming:
        return f"{upcoming} scheduled" if upcoming > 1 else "1 scheduled"
    return "nothing scheduled"


def _row(
    request: OnlineRequest,
    provider: Provider | None,
    exact: str,
    upcoming: int,
) -> RequestRow:
    assert request.id is not None
    return RequestRow(
        id=request.id,
        external_id=request.external_id,
        received_at=request.received_at,
        typed_name=request.typed_name,
        requested_start=request.requested_start,
        requested_provider_name=provider.display_name if provider else "",
        reason=request.reason,
        state=RequestState(request.state),
        patient_id=request.patient_id,
        match_hint=_match_hint(request, exact, upcoming),
        patient_status=request_patient_status(request),
        version=request.version,
        attention=request.attention,
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
    newest_run = select(sa.func.max(SyncRun.id)).scalar_subquery()
    statement = sa.select(
        select(sa.func.max(AuditEvent.id)).scalar_subquery(),
        select(sa.func.count()).select_from(OnlineRequest).scalar_subquery(),
        select(sa.func.max(OnlineRequest.received_at)).scalar_subquery(),
        newest_run,
        select(SyncRun.status).where(SyncRun.id == newest_run).scalar_subquery(),
    )
    with read_session(engine) as session:
        audit, requests, received, run, status = session.execute(statement).one()
    return ChangeStamp(int(audit or 0), int(requests or 0), received, int(run or 0), status or "")


def state_counts(engine: Engine) -> dict[RequestState, int]:
    """How many requests are in each state."""
    with read_session(engine) as session:
        rows = session.exec(
            select(OnlineRequest.state, sa.func.count()).group_by(col(OnlineRequest.state))
        ).all()
    counts = dict.fromkeys(RequestState, 0)
    for state, count in rows:
        counts[RequestState(state)] = count
    return counts


def request_detail(engine: Engine, request_id: int, tz: ZoneInfo, now: datetime) -> RequestDetail:
    """Everything about one request, for the detail pane."""
    with read_session(engine) as session:
        request = session.get(OnlineRequest, request_id)
        if request is None:
            raise LookupError(f"request {request_id} does not exist")
        patient = session.get(Patient, request.patient_id) if request.patient_id else None
        linked = None
        if request.linked_appointment_id is not None:
            appointment = session.get(Appointment, request.linked_appointment_id)
            if appointment is not None:
                linked = appointment_view(appointment, _provider(session, appointment.provider_id))
        row = request_page_row(session, request, tz, now)
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


def request_page_row(
    session: Session, request: OnlineRequest, tz: ZoneInfo, now: datetime
) -> RequestRow:
    """The list row of one request, with its match hint."""
    base = (
        select(sa.func.count())
        .select_from(Appointment)
        .where(
            Appointment.patient_id == request.patient_id,
            col(Appointment.status).in_(BOOKABLE_STATUSES),
        )
    )
    exact = session.exec(select(_exact_kind()).where(col(OnlineRequest.id) == request.id)).one()
    upcoming = session.exec(base.where(col(Appointment.start) >= _day_start(now, tz))).one()
    provider = _provider(session, request.requested_provider_id)
    return _row(request, provider, str(exact), upcoming)


def _provider(session: Session, provider_id: int | None) -> Provider | None:
    return session.get(Provider, provider_id) if provider_id is not None else None


def providers(engine: Engine) -> list[Provider]:
    """All providers, by name."""
    with read_session(engine) as session:
        return list(session.exec(select(Provider).order_by(col(Provider.last_name))).all())
