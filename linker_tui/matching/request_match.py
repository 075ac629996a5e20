"""The one definition of what the request list, the detail pane and Accept say about a
request's patient ("patient found", "pick patient (2)"...), of an exact appointment
match and of a duplicate (its exact appointment already linked to another request); and
storing a request's patient ranking on it when it is ranked."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col

from linker_tui.matching import MatchLevel, PatientRanking
from linker_tui.store.models import Appointment, OnlineRequest


def record_ranking(request: OnlineRequest, ranking: PatientRanking) -> None:
    """Store a ranking on its request: the patient when exact (a patient already set is
    kept: staff's choice wins), the level and how many candidates were offered."""
    if request.patient_id is None and ranking.patient_id is not None:
        request.patient_id = ranking.patient_id
    request.patient_match_level = ranking.level.value
    request.patient_match_count = len(ranking.candidates)


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


def request_patient_status(request: OnlineRequest) -> str:
    """:func:`patient_status` of a request, from what its last ranking stored."""
    return patient_status(
        request.patient_id, request.patient_match_level, request.patient_match_count
    )


def exact_appointment_clause() -> sa.ColumnElement[bool]:
    """SQL: the appointment is an exact match for the request (same start and, when the
    request named a provider, that provider): the rule of
    :attr:`linker_tui.matching.Candidate.exact`, for list queries."""
    return sa.and_(
        col(Appointment.start) == col(OnlineRequest.requested_start),
        sa.or_(
            col(OnlineRequest.requested_provider_id).is_(None),
            col(Appointment.provider_id) == col(OnlineRequest.requested_provider_id),
        ),
    )


def linked_elsewhere_clause() -> sa.ColumnElement[bool]:
    """SQL: another request is already linked to the appointment (a request whose exact
    appointment is, is a second one for it: a duplicate, as
    :attr:`linker_tui.read.views.AcceptCheck.duplicate_of` says for Accept), for list
    queries of appointments beside their request."""
    other = aliased(OnlineRequest)
    return sa.exists().where(
        col(other.linked_appointment_id) == col(Appointment.id),
        col(other.id) != col(OnlineRequest.id),
    )
