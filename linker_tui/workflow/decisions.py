"""Decisions on online requests: accept-check, link, defer, reject, reopen.

This module is the only writer of request state. Every decision is one transaction:
the request's new state, its audit event and (for a link) its outbox row are written
together or not at all. A decision names the request version it was made on; if the
request changed since (another workstation, a sync), it is refused and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from linker_tui.common.actor import Actor
from linker_tui.common.clock import Clock, FixedClock
from linker_tui.mail.compose import ConfirmationFacts, compose_confirmation
from linker_tui.mail.message import InvalidHeader, build_message, new_message_id
from linker_tui.matching import (
    AppointmentFacts,
    PatientRanking,
    PatientRecord,
    ScoredPatient,
    rank_candidates,
)
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
    LinkResult,
    MatchKind,
    PatientCandidateView,
    PatientCheck,
    PatientView,
    ReopenResult,
    appointment_view,
)
from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import BOOKABLE_STATUSES, AppointmentStatus, OutboxStatus, RequestState
from linker_tui.store.models import (
    Appointment,
    AuditEvent,
    EmailOutbox,
    OnlineRequest,
    Patient,
    Provider,
)
from linker_tui.workflow.trail import decide, read_request


class WorkflowError(Exception):
    """A decision that was refused; the message is meant for staff. Nothing was changed."""


class RequestNotFound(WorkflowError):
    """The request does not exist (any more)."""


class StaleRequest(WorkflowError):
    """The request changed since it was shown (another workstation decided on it)."""


class AppointmentUnavailable(WorkflowError):
    """The appointment can no longer be linked (cancelled, moved, or taken)."""


class InvalidDecision(WorkflowError):
    """The decision does not apply to the request in its current state."""


class PracticeInfo:
    """The practice details that go into confirmation emails."""

    def __init__(
        self,
        name: str,
        address: str = "",
        phone: str = "",
        email: str = "reception@practice.invalid",  # the default of Settings.practice_email
    ) -> None:
        self.name, self.address, self.phone, self.email = name, address, phone, email


def format_local(moment: datetime | None, tz: ZoneInfo) -> str:
    """``Thu 2026-12-03 09:30`` in the practice's timezone."""
    if moment is None:
        return "-"
    return moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


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


class Workflow:
    """Staff decisions on requests, each in its own transaction."""

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

    def check(self, request_id: int, patient_id: int | None = None) -> AcceptCheck:
        """Accept, step one: find the request's patient and rank their scheduled appointments.

        Exact when an appointment has the requested date, time and provider; partial when
        the patient has other scheduled appointments (all are listed, closest first);
        none when the patient is unknown or has nothing scheduled. ``patient_id``: the
        patient staff chose in this Accept flow (not saved until the link or defer).
        """
        with read_session(self.engine) as session:
            request = self._get(session, request_id)
            if not RequestState(request.state).open:
                raise InvalidDecision(self._already_decided(request))
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
            appointments = (
                self.scheduled_appointments(session, patient.id)
                if patient is not None and patient.id is not None
                else []
            )
            requested_provider = (
                session.get(Provider, request.requested_provider_id)
                if request.requested_provider_id is not None
                else None
            )
            by_id = {a.id: a for a in appointments}
            ranked = rank_candidates(
                request.requested_start,
                request.requested_provider_id,
                [AppointmentFacts(a.id, a.start, a.provider_id) for a in appointments],
                self.tz,
            )
            candidates = tuple(
                CandidateView(by_id[c.appointment_id], c.differences) for c in ranked
            )
            if not candidates:
                kind = MatchKind.NONE
            elif candidates[0].exact:
                kind = MatchKind.EXACT
            else:
                kind = MatchKind.PARTIAL
            assert request.id is not None
            check = AcceptCheck(
                request_id=request.id,
                version=request.version,
                kind=kind,
                patient_id=patient_id,
                patient_name=patient.display_name if patient else "",
                explanation=explanation,
                requested_start=request.requested_start,
                requested_provider_id=request.requested_provider_id,
                requested_provider_name=(
                    requested_provider.display_name if requested_provider else ""
                ),
                candidates=candidates,
                possible_patients=possible,
            )
        return check

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

    def choose_patient(
        self, request_id: int, patient_id: int | None, *, expected_version: int
    ) -> int:
        """Staff say which patient sent the request ("Is this the same patient?").

        The choice is kept on the request (``patient_id``, ``patient_chosen_by``), audited,
        in one transaction, refused if the request changed since it was shown. ``None``
        forgets the choice: the request is matched automatically again. Only open requests
        can change patient. Returns the request's new version.
        """
        with self._deciding(request_id, expected_version) as (session, request):
            previous = session.get(Patient, request.patient_id) if request.patient_id else None
            chosen_by = ""
            if patient_id is None:
                detail = "patient choice withdrawn"
            else:
                detail = self._staff_choice(session, request, patient_id).removesuffix("; ")
                chosen_by = self.actor.label
            if previous is not None:
                detail += f" (was {previous.pms_id} {previous.display_name})"
            changes = {"patient_id": patient_id, "patient_chosen_by": chosen_by}
            self._decide(session, request, "choose_patient", changes, detail)
            return request.version

    def email_plan(self, appointment_id: int, request_id: int) -> EmailPlan:
        """Where a confirmation would go, and whether to offer it by default."""
        with read_session(self.engine) as session:
            appointment = session.get(Appointment, appointment_id)
            request = self._get(session, request_id)
            patient = session.get(Patient, appointment.patient_id) if appointment else None
            return self._email_plan(patient, request)

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

    # ---------------------------------------------------------------- deciding
    def link(
        self,
        request_id: int,
        appointment_id: int,
        *,
        expected_version: int,
        send_email: bool,
        patient_id: int | None = None,
    ) -> LinkResult:
        """Link the request to a scheduled appointment, and queue the confirmation email.

        ``patient_id``: the patient staff chose in this Accept flow ("Is this the same
        patient?"), recorded with the link in the same decision. Refused (nothing changes)
        when the request changed since ``expected_version``, the appointment is no longer
        scheduled, belongs to another patient, or is already linked to another request.
        """
        try:
            with self._deciding(request_id, expected_version) as (session, request):
                chosen = self._staff_choice(session, request, patient_id)
                appointment = session.get(Appointment, appointment_id)
                if appointment is None:
                    raise AppointmentUnavailable(
                        "That appointment is no longer in the PMS data. Nothing was changed."
                    )
                provider = (
                    session.get(Provider, appointment.provider_id)
                    if appointment.provider_id is not None
                    else None
                )
                self._check_bookable(session, request, appointment, patient_id)
                view = appointment_view(appointment, provider)
                patient = session.get(Patient, appointment.patient_id)
                email, refused = None, ""
                plan = self._email_plan(patient, request)
                if send_email and plan.possible:
                    email, refused = self._confirmation(session, request, view, patient, plan)
                detail = chosen + self._correction_text(session, request, view)
                if refused:
                    detail += f"; no confirmation email: {refused}"
                elif send_email and not plan.possible:
                    detail += "; " + plan.note
                elif not send_email:
                    detail += "; no confirmation email"
                changes = {
                    "state": RequestState.LINKED.value,
                    "linked_appointment_id": appointment.id,
                    "patient_id": appointment.patient_id,
                    "attention": "",
                }
                if patient_id is not None:
                    changes["patient_chosen_by"] = self.actor.label
                self._decide(session, request, "link", changes, detail)
                outbox_id = None
                if email is not None:
                    session.add(email)
                    session.flush()
                    outbox_id = email.id
        except IntegrityError as exc:
            raise AppointmentUnavailable(self._taken_meanwhile(appointment_id)) from exc
        return LinkResult(request_id, view, outbox_id, email_refused=refused)

    def defer(
        self, request_id: int, *, expected_version: int, patient_id: int | None = None
    ) -> None:
        """ "Do this later": keep the request open, marked as waiting for the PMS
        (``patient_id``: the patient staff chose in this flow, saved with it)."""
        with self._deciding(request_id, expected_version) as (session, request):
            chosen = self._staff_choice(session, request, patient_id)
            changes: dict[str, Any] = {"state": RequestState.WAITING_PMS.value, "attention": ""}
            if patient_id is not None:
                changes |= {"patient_id": patient_id, "patient_chosen_by": self.actor.label}
            self._decide(session, request, "defer", changes, chosen + "waiting for the PMS")

    def reject(self, request_id: int, reason: str, *, expected_version: int) -> None:
        """Reject the request with a reason (staff were warned about scheduled appointments)."""
        reason = " ".join(reason.split())
        if not reason:
            raise InvalidDecision("A reason is needed to reject a request.")
        with self._deciding(request_id, expected_version) as (session, request):
            changes = {
                "state": RequestState.REJECTED.value,
                "reject_reason": reason,
                "attention": "",
            }
            self._decide(session, request, "reject", changes, reason)

    def reopen(self, request_id: int, *, expected_version: int) -> ReopenResult:
        """Put a linked or rejected request back to pending.

        Confirmation emails still queued for it are cancelled (withdrawn); sent ones stay
        sent; one being sent at this moment cannot be withdrawn (the server may already
        have it): the result and the audit trail say so.
        """
        with self._deciding(request_id, expected_version, must_be_open=False) as (
            session,
            request,
        ):
            if RequestState(request.state).open:
                raise InvalidDecision("This request is still open: there is nothing to reopen.")
            queued = session.exec(
                select(EmailOutbox).where(
                    EmailOutbox.request_id == request_id,
                    EmailOutbox.status == OutboxStatus.QUEUED.value,
                )
            ).all()
            for email in queued:
                email.status = OutboxStatus.CANCELLED
                email.last_error = "request reopened before sending"
                session.add(email)
            sending = session.exec(
                select(EmailOutbox.to_address).where(
                    EmailOutbox.request_id == request_id,
                    EmailOutbox.status == OutboxStatus.SENDING.value,
                )
            ).all()
            changes = {
                "state": RequestState.PENDING.value,
                "linked_appointment_id": None,
                "reject_reason": "",
                "attention": "",
            }
            detail = f"reopened; {len(queued)} queued email(s) withdrawn" if queued else "reopened"
            for address in sending:
                detail += f"; the email to {address} was being sent: not withdrawn"
            self._decide(session, request, "reopen", changes, detail)
            return ReopenResult(len(queued), tuple(sending))

    def dismiss_attention(self, request_id: int, *, expected_version: int) -> int:
        """Staff have seen the request's attention flag: clear it (audited). Returns the
        request's new version."""
        with self._deciding(request_id, expected_version, must_be_open=False) as (
            session,
            request,
        ):
            if not request.attention:
                raise InvalidDecision("This request has nothing to look at. Nothing was changed.")
            self._decide(session, request, "attention_seen", {"attention": ""}, request.attention)
            return request.version

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _get(session: Session, request_id: int) -> OnlineRequest:
        request = session.get(OnlineRequest, request_id)
        if request is None:
            raise RequestNotFound("This request no longer exists.")
        return request

    @contextmanager
    def _deciding(
        self, request_id: int, expected_version: int, *, must_be_open: bool = True
    ) -> Iterator[tuple[Session, OnlineRequest]]:
        """The decision skeleton's start, in one write transaction: read the request, make
        sure nobody changed it since it was shown (and, for most decisions, that it is
        still open). The caller checks the rest, then calls :meth:`_decide`."""
        with write_session(self.engine) as session:
            request = self._current(session, request_id, expected_version)
            if must_be_open and not RequestState(request.state).open:
                raise InvalidDecision(self._already_decided(request))
            yield session, request

    def _current(self, session: Session, request_id: int, expected_version: int) -> OnlineRequest:
        request = read_request(session, request_id)
        if request is None:
            raise RequestNotFound("This request no longer exists. Nothing was changed.")
        if request.version != expected_version:
            raise StaleRequest(self._changed_meanwhile(request))
        return request

    def _decide(
        self,
        session: Session,
        request: OnlineRequest,
        action: str,
        changes: dict[str, Any],
        detail: str,
    ) -> None:
        """The skeleton's end: snapshot, apply on the version read, version + 1, audit
        (:func:`linker_tui.workflow.trail.decide`); another desk was quicker: StaleRequest."""
        shown = request.version
        assert request.id is not None
        if not decide(session, request, action, changes, detail, self.actor, self.clock):
            self._current(session, request.id, shown)  # raises, saying who and when
            raise StaleRequest("This request was changed meanwhile. Nothing was changed.")

    def _changed_meanwhile(self, request: OnlineRequest) -> str:
        state = RequestState(request.state)
        if state.open:
            return (
                f"This request was changed meanwhile (it is now {state.label.lower()}). "
                "Nothing was changed; please look at it again."
            )
        return self._already_decided(request)

    def _already_decided(self, request: OnlineRequest) -> str:
        state = RequestState(request.state)
        who = request.decided_by or "someone"
        when = format_local(request.decided_at, self.tz)
        what = state.label.lower()
        if state is RequestState.REJECTED and request.reject_reason:
            what += f" ({request.reject_reason})"
        return f"This request was already {what} by {who} at {when}. Nothing was changed."

    def _staff_choice(
        self, session: Session, request: OnlineRequest, patient_id: int | None
    ) -> str:
        """The audit detail's start for a patient chosen in the flow ("" when none)."""
        if patient_id is None:
            return ""
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise InvalidDecision("This patient no longer exists. Nothing was changed.")
        scored = score_records(
            session, typed_identity(request), [patient_record(patient)], self.phone_region
        ).candidates
        evidence = f" ({scored[0].summary()})" if scored else ""
        return f"patient {patient.pms_id} {patient.display_name} chosen{evidence}; "

    def _check_bookable(
        self,
        session: Session,
        request: OnlineRequest,
        appointment: Appointment,
        chosen_patient_id: int | None = None,
    ) -> None:
        status = AppointmentStatus(appointment.status)
        when = format_local(appointment.start, self.tz)
        if not status.bookable:
            raise AppointmentUnavailable(
                f"The appointment on {when} is now {status.value} in the PMS. Nothing was changed."
            )
        if appointment.start < self.start_of_today():
            raise AppointmentUnavailable(
                f"The appointment on {when} is in the past. Nothing was changed."
            )
        patient_id = chosen_patient_id or request.patient_id
        if patient_id is None:
            patient_id = find_patient(session, request, self.phone_region).patient_id
        if patient_id != appointment.patient_id:
            raise AppointmentUnavailable(
                f"The appointment on {when} belongs to another patient. Nothing was changed."
            )
        taken = session.exec(
            select(OnlineRequest).where(
                OnlineRequest.linked_appointment_id == appointment.id,
                OnlineRequest.id != request.id,
            )
        ).first()
        if taken is not None:
            raise AppointmentUnavailable(
                f"The appointment on {when} is already linked to request {taken.external_id} "
                f"by {taken.decided_by or 'someone'} at {format_local(taken.decided_at, self.tz)}. "
                "Nothing was changed."
            )

    def _taken_meanwhile(self, appointment_id: int) -> str:
        """The message when another workstation linked the appointment at the same moment
        (the UNIQUE constraint on ``linked_appointment_id`` refused ours)."""
        with read_session(self.engine) as session:
            taken = session.exec(
                select(OnlineRequest).where(OnlineRequest.linked_appointment_id == appointment_id)
            ).first()
        if taken is None:
            return "That appointment was linked to another request meanwhile. Nothing was changed."
        return (
            f"That appointment was linked to request {taken.external_id} meanwhile, by "
            f"{taken.decided_by or 'someone'} at {format_local(taken.decided_at, self.tz)}. "
            "Nothing was changed."
        )

    def _correction_text(
        self, session: Session, request: OnlineRequest, scheduled: AppointmentView
    ) -> str:
        requested_provider = (
            session.get(Provider, request.requested_provider_id)
            if request.requested_provider_id is not None
            else None
        )
        asked = format_local(request.requested_start, self.tz)
        if requested_provider:
            asked += f" {requested_provider.display_name}"
        booked = f"{format_local(scheduled.start, self.tz)} {scheduled.provider_name}".strip()
        return f"requested {asked} -> scheduled {booked} (appointment {scheduled.pms_id})"

    def _confirmation(
        self,
        session: Session,
        request: OnlineRequest,
        scheduled: AppointmentView,
        patient: Patient | None,
        plan: EmailPlan,
    ) -> tuple[EmailOutbox | None, str]:
        """The confirmation's outbox row, to queue: (the row, ""), or (None, why) when the
        message does not build or read back intact (the link goes ahead without it)."""
        name = (patient.preferred_name or patient.first_name) if patient else ""
        earlier = session.exec(
            select(func.count()).where(EmailOutbox.appointment_id == scheduled.id)
        ).one()
        now = self.clock.now()
        composed = compose_confirmation(
            ConfirmationFacts(
                patient_name=name or request.typed_first_name,
                scheduled_start=scheduled.start,
                duration_min=scheduled.duration_min,
                provider=scheduled.provider_name or "our team",
                requested_start=request.requested_start,
                practice_name=self.practice.name,
                practice_address=self.practice.address,
                practice_phone=self.practice.phone,
                practice_email=self.practice.email,
                appointment_pms_id=scheduled.pms_id,
                sequence=int(earlier),  # a later email about it updates the calendar entry
                stamp=now,
            ),
            self.tz,
            self.templates,
        )
        assert request.id is not None
        email = EmailOutbox(
            request_id=request.id,
            appointment_id=scheduled.id,
            to_address=plan.address,
            to_name=f"{patient.first_name} {patient.last_name}" if patient else "",
            subject=composed.subject,
            body_text=composed.body_text,
            body_html=composed.body_html,
            ics=composed.ics,
            created_at=now,
            next_attempt_at=now,
            message_id=new_message_id(self.practice.email),
        )
        try:  # the relay builds it again when it sends; refuse it now if it cannot work
            build_message(email, self.practice.email, self.practice.name, now)
        except InvalidHeader as exc:
            return None, str(exc)
        return email, ""


def audit_trail(engine: Engine, request_id: int | None = None) -> Sequence[AuditEvent]:
    """The audit events, oldest first (all, or one request's)."""
    with read_session(engine) as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        if request_id is not None:
            query = query.where(AuditEvent.request_id == request_id)
        return session.exec(query).all()


@dataclass(frozen=True)
class AttentionFlag:
    """Something the sync wants staff to look at on a request, valid only while the request
    is still in ``state`` (and, for a linked one, still linked to ``linked_appointment_id``)."""

    request_id: int
    text: str
    state: RequestState
    linked_appointment_id: int | None = None


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
        detail = f"{flag.text} (found by the sync on {actor.label})"
        changes = {"attention": flag.text}
        if decide(session, request, "attention", changes, detail, actor, clock, system=True):
            flagged += 1
    return flagged
