"""What staff look at before deciding: the Accept check (the request's patient and their
scheduled appointments, ranked), the patient candidates and search, the email plan.
Read-only; :mod:`linker_tui.workflow.decisions` builds the decisions on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock
from linker_tui.matching import (
    AppointmentFacts,
    PatientRanking,
    PatientRecord,
    ScoredPatient,
    rank_candidates,
)
from linker_tui.matching.appointment_search import nearest_appointments
from linker_tui.matching.patient_search import (
    rank_request,
    score_records,
    search_patients,
    typed_identity,
)
from linker_tui.read.views import (
    AcceptCheck,
    AppointmentView,
    CandidateView,
    EmailPlan,
    LinkedElsewhere,
    MatchKind,
    PatientCandidateView,
    PatientCheck,
    PatientView,
    appointment_view,
)
from linker_tui.store.db import read_session
from linker_tui.store.enums import BOOKABLE_STATUSES, RequestState
from linker_tui.store.models import Appointment, OnlineRequest, Patient, Provider
from linker_tui.workflow.confirmation import earlier_confirmation, replaces_text
from linker_tui.workflow.errors import InvalidDecision, RequestNotFound
from linker_tui.workflow.practice import PracticeInfo, format_local


def patient_record(patient: Patient) -> PatientRecord:
    """The matching view of a patient row."""
    assert patient.id is not None
    return PatientRecord(
        id=patient.id,
        first_name=patient.first_name,
        last_name=patient.last_name,
        preferred_name=patient.preferred_name,
        birthdate=patient.birthdate,
        email=patient.email,
        phones=tuple(p for p in (patient.phone_home, patient.phone_mobile) if p),
    )


def find_patient(session: Session, request: OnlineRequest, region: str = "CA") -> PatientRanking:
    """Rank the PMS patients for the identity typed in ``request``.

    ``.patient_id`` is the decided patient (exact level) or None; ``.candidates`` are the
    possible patients with their evidence, best first; ``.explanation`` says why.
    """
    return rank_request(session, request, region)


def patient_view(patient: Patient) -> PatientView:
    """A snapshot of a patient row."""
    assert patient.id is not None
    return PatientView(
        id=patient.id,
        pms_id=patient.pms_id,
        display_name=patient.display_name,
        birthdate=patient.birthdate,
        email=patient.email,
        phones=tuple(p for p in (patient.phone_home, patient.phone_mobile) if p),
        guarantor_pms_id=patient.guarantor_pms_id,
    )


def _candidate_views(
    session: Session, scored: Sequence[ScoredPatient]
) -> tuple[PatientCandidateView, ...]:
    ids = [c.patient_id for c in scored]
    rows = {p.id: p for p in session.exec(select(Patient).where(col(Patient.id).in_(ids))).all()}
    return tuple(
        PatientCandidateView(patient_view(rows[c.patient_id]), c.score, c.evidence, c.decisive)
        for c in scored
        if c.patient_id in rows
    )


def match_kind(candidates: tuple[CandidateView, ...], *, narrowed: bool = False) -> MatchKind:
    """Exact when the closest appointment is exactly the one asked for; none when none
    (narrowed by staff, none matching is still partial: the patient has appointments)."""
    if not candidates:
        return MatchKind.PARTIAL if narrowed else MatchKind.NONE
    return MatchKind.EXACT if candidates[0].exact else MatchKind.PARTIAL


class Checks:
    """What staff look at before a decision (each look in its own read transaction)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        actor: Actor,
        tz: ZoneInfo,
        practice: PracticeInfo,
        *,
        templates: Environment | None = None,
        phone_region: str = "CA",
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.actor = actor
        self.tz = tz
        self.practice = practice
        self.templates = templates  # None: the packaged templates
        self.phone_region = phone_region  # where phone numbers without country code are from

    # ----------------------------------------------------------------- reading
    def start_of_today(self) -> datetime:
        """Midnight today in the practice's timezone; earlier appointments are not offered."""
        today = self.clock.now().astimezone(self.tz).date()
        return datetime.combine(today, time(0), tzinfo=self.tz)

    def scheduled_appointments(self, session: Session, patient_id: int) -> list[AppointmentView]:
        """The patient's scheduled or confirmed appointments from today on."""
        rows = session.exec(
            select(Appointment, Provider)
            .join(Provider, isouter=True)
            .where(
                Appointment.patient_id == patient_id,
                col(Appointment.status).in_(BOOKABLE_STATUSES),
                col(Appointment.start) >= self.start_of_today(),
            )
            .order_by(col(Appointment.start))
        ).all()
        return [appointment_view(a, p) for a, p in rows]

    def check(
        self,
        request_id: int,
        patient_id: int | None = None,
        *,
        narrow: str = "",
        keep: int | None = None,
    ) -> AcceptCheck:
        """Accept, step one: find the request's patient and rank their scheduled appointments.

        Exact when an appointment has the requested date, time and provider; partial when
        the patient has other scheduled appointments (the nearest are listed, closest
        first, and the others counted); none when the patient is unknown or has nothing
        scheduled. ``patient_id``: the patient staff chose in this Accept flow (not saved
        until the link or defer). ``narrow``: staff's narrowing words; ``keep``: an
        appointment listed whatever the limit and the narrowing (the one staff chose).
        """
        with read_session(self.engine) as session:
            request = self._get(session, request_id)
            if not RequestState(request.state).open:
                raise InvalidDecision(self._already_decided(request))
            patient, explanation, possible = self._request_patient(session, request, patient_id)
            candidates, more = self._candidates(session, request, patient, narrow, keep)
            requested_provider = (
                session.get(Provider, request.requested_provider_id)
                if request.requested_provider_id is not None
                else None
            )
            assert request.id is not None
            return AcceptCheck(
                request_id=request.id,
                version=request.version,
                kind=match_kind(candidates, narrowed=bool(narrow.strip())),
                patient_id=patient.id if patient else patient_id,
                patient_name=patient.display_name if patient else "",
                explanation=explanation,
                requested_start=request.requested_start,
                requested_provider_id=request.requested_provider_id,
                requested_provider_name=(
                    requested_provider.display_name if requested_provider else ""
                ),
                candidates=candidates,
                possible_patients=possible,
                note=request.note,
                more=more,
                narrow=narrow.strip(),
            )

    def _request_patient(
        self, session: Session, request: OnlineRequest, patient_id: int | None
    ) -> tuple[Patient | None, str, int]:
        """The request's patient (chosen now, chosen before, or matched), why, and how many
        possible patients there are when none is decided."""
        possible = 0
        if patient_id is not None:
            explanation = "chosen now, saved with the decision"
        elif request.patient_id is not None:
            patient_id = request.patient_id
            explanation = (
                f"chosen by {request.patient_chosen_by}"
                if request.patient_chosen_by
                else "matched when the request arrived"
            )
        else:
            match = find_patient(session, request, self.phone_region)
            patient_id, explanation = match.patient_id, match.explanation
            if patient_id is None:
                possible = len(match.candidates)
        patient = session.get(Patient, patient_id) if patient_id is not None else None
        return patient, explanation, possible

    def _candidates(
        self,
        session: Session,
        request: OnlineRequest,
        patient: Patient | None,
        narrow: str = "",
        keep: int | None = None,
    ) -> tuple[tuple[CandidateView, ...], int]:
        """The patient's scheduled appointments nearest to the request, closest first (an
        exact one leads), and how many more there are (matching ``narrow``)."""
        if patient is None or patient.id is None:
            return (), 0
        found = nearest_appointments(
            session,
            patient.id,
            request.requested_start,
            self.start_of_today(),
            self.tz,
            narrow=narrow,
            keep=keep,
        )
        appointments = [appointment_view(a, p) for a, p in found.rows]
        by_id = {a.id: a for a in appointments}
        ranked = rank_candidates(
            request.requested_start,
            request.requested_provider_id,
            [AppointmentFacts(a.id, a.start, a.provider_id) for a in appointments],
            self.tz,
        )
        linked = self._linked_elsewhere(session, request, list(by_id))
        views = tuple(
            CandidateView(by_id[c.appointment_id], c.differences, linked.get(c.appointment_id))
            for c in ranked
        )
        return views, found.more

    @staticmethod
    def _linked_elsewhere(
        session: Session, request: OnlineRequest, appointment_ids: list[int]
    ) -> dict[int, LinkedElsewhere]:
        """The other requests already linked to these appointments, by appointment."""
        if not appointment_ids:
            return {}
        others = session.exec(
            select(OnlineRequest).where(
                col(OnlineRequest.linked_appointment_id).in_(appointment_ids),
                OnlineRequest.id != request.id,
            )
        ).all()
        return {
            other.linked_appointment_id: LinkedElsewhere(
                other.id, other.external_id, other.decided_by, other.decided_at
            )
            for other in others
            if other.linked_appointment_id is not None and other.id is not None
        }

    def patient_candidates(self, request_id: int) -> PatientCheck:
        """ "Is this the same patient?": the request's typed identity and the ranked
        candidate patients with per-field evidence (the chosen patient is always listed)."""
        with read_session(self.engine) as session:
            request = self._get(session, request_id)
            ranking = find_patient(session, request, self.phone_region)
            candidates = _candidate_views(session, ranking.candidates)
            chosen = request.patient_id
            if chosen is not None and all(c.patient.id != chosen for c in candidates):
                patient = session.get(Patient, chosen)
                if patient is not None:
                    extra = score_records(
                        session,
                        typed_identity(request),
                        [patient_record(patient)],
                        self.phone_region,
                    )
                    candidates += _candidate_views(session, extra.candidates)
            assert request.id is not None
            check = PatientCheck(
                request_id=request.id,
                version=request.version,
                level=ranking.level,
                explanation=ranking.explanation,
                typed_name=request.typed_name,
                typed_birthdate=request.typed_birthdate,
                typed_email=request.typed_email,
                typed_phone=request.typed_phone,
                candidates=candidates,
                chosen_patient_id=chosen,
                chosen_by=request.patient_chosen_by,
            )
        return check

    def search_patients(
        self, text: str, request_id: int | None = None, limit: int = 50
    ) -> tuple[PatientCandidateView, ...]:
        """Staff's patient search by name, birth date, phone or email (at most ``limit``).

        With ``request_id`` each patient found is compared with what the request's sender
        typed (score and evidence, best first); without, they come by name and no evidence.
        """
        with read_session(self.engine) as session:
            found = search_patients(session, text, self.phone_region, limit)
            if request_id is None:
                rows = {
                    p.id: p
                    for p in session.exec(
                        select(Patient).where(col(Patient.id).in_([r.id for r in found]))
                    ).all()
                }
                return tuple(
                    PatientCandidateView(patient_view(rows[r.id]), 0.0, (), False)
                    for r in found
                    if r.id in rows
                )
            request = self._get(session, request_id)
            typed = typed_identity(request)
            scored = score_records(session, typed, found, self.phone_region).candidates
            return _candidate_views(session, scored)

    def email_plan(self, appointment_id: int, request_id: int) -> EmailPlan:
        """Where a confirmation would go, whether to offer it by default, and the
        confirmation it corrects (the request was linked and emailed before)."""
        with read_session(self.engine) as session:
            appointment = session.get(Appointment, appointment_id)
            request = self._get(session, request_id)
            patient = session.get(Patient, appointment.patient_id) if appointment else None
            plan = self._email_plan(patient, request)
            earlier = earlier_confirmation(session, request_id)
            return replace(plan, replaces=replaces_text(earlier, self.tz))

    @staticmethod
    def _email_plan(patient: Patient | None, request: OnlineRequest) -> EmailPlan:
        # Only the address on file in the PMS: one typed into a web form is not verified
        # and may belong to someone else in the family.
        address = patient.email if patient else ""
        name = patient.display_name if patient else request.typed_name
        if not address.strip():
            return EmailPlan(
                "", False, f"{name} has no email address in the PMS: no email will be sent."
            )
        if patient is not None and patient.no_email:
            return EmailPlan(address.strip(), False, "The patient asked not to be emailed.")
        return EmailPlan(address.strip(), True, "")

    def scheduled_for_request(self, request_id: int) -> list[AppointmentView]:
        """Scheduled appointments of the request's patient (to warn before a reject)."""
        with read_session(self.engine) as session:
            request = self._get(session, request_id)
            patient_id = request.patient_id
            if patient_id is None:
                patient_id = find_patient(session, request, self.phone_region).patient_id
            return self.scheduled_appointments(session, patient_id) if patient_id else []

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _get(session: Session, request_id: int) -> OnlineRequest:
        request = session.get(OnlineRequest, request_id)
        if request is None:
            raise RequestNotFound("This request no longer exists.")
        return request

    def _already_decided(self, request: OnlineRequest) -> str:
        state = RequestState(request.state)
        who = request.decided_by or "someone"
        when = format_local(request.decided_at, self.tz)
        what = state.label.lower()
        if state is RequestState.REJECTED and request.reject_reason:
            what += f" ({request.reject_reason})"
        return f"This request was already {what} by {who} at {when}. Nothing was changed."
