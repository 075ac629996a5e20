"""The one definition of what the request list and the detail pane say about a request:
its patient ("patient found", "pick patient (2)"..., from the ranking stored on it) and
whether an appointment matches it exactly, or is a duplicate (its exact appointment
already linked to another request). SQLAlchemy Core, light to import: the list's first
page uses it. Accept's own rules are :attr:`linker_tui.matching.Candidate.exact` and
:attr:`linker_tui.read.views.AcceptCheck.duplicate_of`; the tests keep the three in step."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from linker_tui.store.enums import MatchLevel
from linker_tui.store.tables import appointment, online_request


def patient_status(patient_id: int | None, level: str, count: int) -> str:
    """What staff are told about a request's patient: ``patient found`` (known, chosen
    or matched exactly), ``pick patient (n)`` / ``confirm patient`` (Accept asks "Is this
    the same patient?" first), ``patient not found``, or ``not matched yet`` (``level``
    "": never ranked; the sync ranks open requests that were not)."""
    if patient_id is not None or level == MatchLevel.EXACT.value:
        return "patient found"
    if not level:
        return "not matched yet"
    if count > 1:
        return f"pick patient ({count})"
    if count == 1:
        return "confirm patient"
    return "patient not found"


def request_patient_status(request: Any) -> str:
    """:func:`patient_status` of a request (a row of ``online_request``, or its ORM
    object), from what its last ranking stored."""
    return patient_status(
        request.patient_id, request.patient_match_level, request.patient_match_count
    )


def exact_appointment_clause() -> sa.ColumnElement[bool]:
    """SQL: the appointment is an exact match for the request (same start and, when the
    request named a provider, that provider): the rule of
    :attr:`linker_tui.matching.Candidate.exact`, for list queries."""
    return sa.and_(
        appointment.c.start == online_request.c.requested_start,
        sa.or_(
            online_request.c.requested_provider_id.is_(None),
            appointment.c.provider_id == online_request.c.requested_provider_id,
        ),
    )


def linked_elsewhere_clause() -> sa.ColumnElement[bool]:
    """SQL: another request is already linked to the appointment (a request whose exact
    appointment is, is a second one for it: a duplicate, as
    :attr:`linker_tui.read.views.AcceptCheck.duplicate_of` says for Accept), for list
    queries of appointments beside their request."""
    other = online_request.alias("other")
    # correlated to the request and the appointment of the queries around it, however
    # deep: left to itself, SQLAlchemy correlates one level only and read every request
    # a second time per row (a cross join: 0.5 s per page on PostgreSQL)
    return (
        sa.exists()
        .where(
            other.c.linked_appointment_id == appointment.c.id,
            other.c.id != online_request.c.id,
        )
        .correlate_except(other)
    )
